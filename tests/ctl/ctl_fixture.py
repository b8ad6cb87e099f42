"""Shared by the fieldlinkctl integration tests: the daemon fixture and peers of
tests/integration (imported, not copied), and running fieldlinkctl with a deadline."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from broker_daemon import start_daemon_with_broker  # noqa: E402,F401
from daemon_fixture import FIELDLINKCTL, FIELDLINKD, Daemon, http_get  # noqa: E402,F401
from peers import HubEmulator, Mosquitto, free_port  # noqa: E402,F401


def ctl(*args, timeout=30, env=None, stdin_text=""):
    """Runs fieldlinkctl; returns the CompletedProcess (text stdout/stderr)."""
    return subprocess.run([FIELDLINKCTL, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})), input=stdin_text)


def wait_until(condition, timeout=15.0, what="condition"):
    """Polls `condition` until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.05)


def tree(folder):
    """Every file under `folder` with its bytes and mode, to prove an edit changed nothing."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            data = None
            if os.path.isfile(path) and not name.endswith(".sock"):
                with open(path, "rb") as f:
                    data = f.read()
            out[os.path.relpath(path, folder)] = (st.st_mode, data)
    return out
