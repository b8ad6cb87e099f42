"""The package installed for real: `dpkg -i`, an upgrade, `dpkg -r` and `dpkg -P`, run by dpkg itself
with its own database, maintainer scripts and triggers, on a copy-on-write view of this machine (an
overlay over / in a private mount and network namespace, entered with chroot), so the machine keeps
no trace. No systemd manager runs there, as in an image build; the service is run as the package
sets it up, as user fieldlink, by hand. Where namespaces or overlayfs are not allowed (no root) the
case prints SKIPPED and ctest reports it as not run."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from package import deb_path

# Runs "$@" inside the gateway: the overlay (upper layer kept between calls, so each step sees
# what the ones before it left) with /proc, /dev, a fresh /run and /tmp, loopback up.
ENTER = r"""
set -e
work=$1; shift
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/work" "$work/merged"
mount --bind /proc "$work/merged/proc"
mount --bind /dev "$work/merged/dev"
mount -t tmpfs -o mode=0755 tmpfs "$work/merged/run"
mount -t tmpfs -o mode=1777 tmpfs "$work/merged/tmp"
mkdir -p "$work/merged/mnt/deb"
mount --bind "$work/deb" "$work/merged/mnt/deb"
ip link set lo up
exec chroot "$work/merged" /bin/sh -c "$@"
"""

# Starts the installed daemon as its user with the installed configuration, waits for /healthz,
# stops it with SIGTERM; prints what it saw, one `key=value` a line.
RUN_SERVICE = r"""
cd /
# setpriv execs the daemon itself (runuser would stay as its parent and take the signal)
setpriv --reuid=fieldlink --regid=fieldlink --init-groups \
  /usr/bin/fieldlinkd --config /etc/fieldlink/fieldlink.yaml 2>/tmp/log &
pid=$!
/usr/bin/python3 - <<'EOF'
import time, urllib.request
health = None
deadline = time.monotonic() + 30
while time.monotonic() < deadline and health is None:
    try:
        health = urllib.request.urlopen("http://127.0.0.1:8086/healthz", timeout=2).status
    except OSError:
        time.sleep(0.1)  # polling: the daemon opens its endpoint when it is ready
print(f"health={health}")
EOF
kill -TERM "$pid"
code=0; wait "$pid" || code=$?
echo "exit=$code"
echo "journal_owner=$(stat -c %U /var/lib/fieldlink/journal.db)"
"""


def namespaces_allowed():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--net", "true"], capture_output=True)
    return probe.returncode == 0


class DpkgInstall(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="fieldlink-dpkg-")
        self.addCleanup(shutil.rmtree, self.work, True)
        for d in ("upper", "work", "merged", "deb"):
            os.mkdir(os.path.join(self.work, d))
        shutil.copy(deb_path(), os.path.join(self.work, "deb", "fieldlink.deb"))

    def gateway(self, script, expect_ok=True):
        done = subprocess.run(
            ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", ENTER, "sh",
             self.work, script], capture_output=True, text=True, timeout=240)
        if expect_ok:
            self.assertEqual(done.returncode, 0, f"{script}\n{done.stdout}\n{done.stderr}")
        return done

    def test_install_run_upgrade_remove_purge(self):
        if not namespaces_allowed():
            print("SKIPPED: needs root for a mount namespace and an overlay over /", flush=True)
            return

        # Install.
        out = self.gateway("dpkg -i /mnt/deb/fieldlink.deb 2>&1").stdout
        self.assertIn("Setting up fieldlink", out)
        facts = self.gateway(
            "id -nG fieldlink; stat -c '%U:%G %a' /etc/fieldlink /etc/fieldlink/keys "
            "/var/lib/fieldlink; dpkg-query -W -f='${Status}\\n${Conffiles}\\n' fieldlink; "
            "test -L /etc/systemd/system/multi-user.target.wants/fieldlinkd.service && "
            "echo enabled; fieldlinkd --version | head -1; fieldlinkctl --help >/dev/null && echo ctl"
        ).stdout.splitlines()
        self.assertEqual(sorted(facts[0].split()), ["bluetooth", "dialout", "fieldlink"])
        self.assertEqual(facts[1:4], ["root:fieldlink 750", "fieldlink:fieldlink 700",
                                      "fieldlink:fieldlink 750"])
        self.assertEqual(facts[4], "install ok installed")
        self.assertIn("/etc/fieldlink/fieldlink.yaml", facts[5])
        self.assertEqual(facts[6:], ["enabled", "fieldlinkd 0.1.0", "ctl"])

        # The fresh install's configuration validates as the service user, and the daemon runs
        # as that user with it: healthy, a journal of its own, a clean stop.
        self.gateway("runuser -u fieldlink -- fieldlinkd --check-config "
                     "--config /etc/fieldlink/fieldlink.yaml")
        run = self.gateway(RUN_SERVICE)
        seen = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
        self.assertEqual(seen.get("health"), "200", run.stdout + run.stderr)
        self.assertEqual(seen.get("exit"), "0", run.stdout + run.stderr)
        self.assertEqual(seen.get("journal_owner"), "fieldlink")

        # An upgrade (the same version again goes through the same scripts with the old version
        # as $2) keeps the journal and the administrator's edit of the conffile.
        self.gateway("echo '# edited on site' >> /etc/fieldlink/fieldlink.yaml; "
                     "echo x > /etc/fieldlink/keys/site.key")
        self.gateway("dpkg -i /mnt/deb/fieldlink.deb")
        kept = self.gateway("test -f /var/lib/fieldlink/journal.db && echo journal; "
                            "tail -1 /etc/fieldlink/fieldlink.yaml; "
                            "test -L /etc/systemd/system/multi-user.target.wants/"
                            "fieldlinkd.service && echo enabled").stdout.splitlines()
        self.assertEqual(kept, ["journal", "# edited on site", "enabled"])

        # Remove: the programs go, the configuration and the journal (undelivered readings) stay.
        self.gateway("dpkg -r fieldlink")
        after_remove = self.gateway(
            "test -e /usr/bin/fieldlinkd || echo no-daemon; "
            "test -f /var/lib/fieldlink/journal.db && echo journal; "
            "test -f /etc/fieldlink/fieldlink.yaml && echo config").stdout.split()
        self.assertEqual(after_remove, ["no-daemon", "journal", "config"])

        # Purge: the journal and the package's configuration go; what the administrator put in
        # keys/ stays, and so does the system user (Debian practice).
        self.gateway("dpkg -P fieldlink")
        after_purge = self.gateway(
            "test -e /var/lib/fieldlink || echo no-state; "
            "test -e /etc/fieldlink/fieldlink.yaml || echo no-config; "
            "test -f /etc/fieldlink/keys/site.key && echo site-key; "
            "getent passwd fieldlink >/dev/null && echo user; "
            "test -e /etc/systemd/system/multi-user.target.wants/fieldlinkd.service || "
            "echo disabled; dpkg-query -W fieldlink 2>/dev/null || echo unknown").stdout.split()
        self.assertEqual(after_purge,
                         ["no-state", "no-config", "site-key", "user", "disabled", "unknown"])


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=sys.argv)
