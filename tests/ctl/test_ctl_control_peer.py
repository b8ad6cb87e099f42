"""The control socket refuses a peer that is not root, not the daemon's user and not in its
group. Needs root, to run the client under another uid; exits 77 (reported by ctest as skipped,
not passed) otherwise — the check itself is unit-tested in peer_access_test.cpp."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

from ctl_fixture import FIELDLINKCTL, Daemon

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


class PeerRefused(unittest.TestCase):
    def setUp(self):
        self.daemon = Daemon("")
        self.sock = os.path.join(self.daemon.dir, "control.sock")
        self.daemon.write_config("gateway: { name: p, state_dir: state, identity: gw }\n"
                                 "status: { listen: 127.0.0.1:0 }\n"
                                 f"control: {{ listen: 'unix:{self.sock}' }}\n")
        os.chmod(self.daemon.dir, 0o711)  # nobody may reach the socket, not list the folder
        # nobody's own copy of what fieldlinkctl needs: where the socket is.
        self.other = tempfile.mkdtemp(prefix="fieldlink-ctl-peer-")
        os.chmod(self.other, 0o755)
        self.config = os.path.join(self.other, "fieldlink.yaml")
        with open(self.config, "w") as f:
            f.write(f"control: {{ listen: 'unix:{self.sock}' }}\n")
        os.chmod(self.config, 0o644)
        self.daemon.start()
        self.daemon.wait_ready(timeout=20)

    def tearDown(self):
        self.daemon.close()
        shutil.rmtree(self.other, ignore_errors=True)

    def as_nobody(self):
        return subprocess.run(NOBODY + [FIELDLINKCTL, "invoke", "gw", "ping", "--config",
                                        self.config], capture_output=True, text=True, timeout=30)

    def test_another_uid_is_refused(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.sock).st_mode), 0o660)
        # First the file mode keeps nobody out.
        out = self.as_nobody()
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("Permission denied", out.stderr)
        # With the mode loosened by hand, the peer check still refuses the connection.
        os.chmod(self.sock, 0o666)
        out = self.as_nobody()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("status 403: uid 65534", out.stderr)
        self.daemon.wait_stderr(r"control socket: refused uid 65534 \(pid \d+\)")
        # And root is still served.
        out = subprocess.run([FIELDLINKCTL, "invoke", "gw", "ping", "--config",
                              self.daemon.config], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("not root: cannot run a client under another uid; skipped", file=sys.stderr)
        sys.exit(77)
    unittest.main()
