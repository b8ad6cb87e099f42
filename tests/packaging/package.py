"""The .deb under test: the one the packaging_build_deb fixture made, extracted on demand into
private temporary folders (never into the real system)."""

import glob
import os
import subprocess
import tempfile

SOURCE_DIR = os.environ["FIELDLINK_SOURCE_DIR"]
BUILD_DIR = os.environ["FIELDLINK_BUILD_DIR"]
DEB_DIR = os.environ["FIELDLINK_DEB_DIR"]


def deb_path():
    found = glob.glob(os.path.join(DEB_DIR, "fieldlink_*.deb"))
    if len(found) != 1:
        raise AssertionError(f"expected one fieldlink_*.deb in {DEB_DIR} (made by the "
                             f"packaging_build_deb fixture), found {found}")
    return found[0]


def run(args, **kwargs):
    """Runs a command with a deadline; returns the CompletedProcess with text output."""
    kwargs.setdefault("timeout", 120)
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def extract(deb, into=None):
    """dpkg -x: the package's files under a fresh folder, as dpkg would lay them out."""
    root = into or tempfile.mkdtemp(prefix="fieldlink-deb-")
    result = run(["dpkg-deb", "-x", deb, root])
    if result.returncode != 0:
        raise AssertionError(f"dpkg-deb -x failed: {result.stderr}")
    return root
