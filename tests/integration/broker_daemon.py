"""The set-up most daemon test classes share: their own mosquitto and a fieldlinkd configured to
use it, started for the class and closed after it. Imported by tests/integration and (through
tests/ctl/ctl_fixture.py, which puts this folder on sys.path by its own location) tests/ctl."""

from daemon_fixture import Daemon
from peers import Mosquitto


def start_daemon_with_broker(test_class, config, files=None, **values):
    """Starts a mosquitto and a fieldlinkd for `test_class` (call it in setUpClass); returns
    (broker, daemon). `config` is a str.format template given `broker` (the broker's port),
    `dir` (the daemon's own folder, for sockets and files in it) and `values`. Both are closed
    after the class's tests, and after tearDownClass, even when setUpClass fails later on."""
    broker = Mosquitto()
    test_class.addClassCleanup(broker.close)
    daemon = Daemon("", files=files)
    test_class.addClassCleanup(daemon.close)
    daemon.write_config(config.format(broker=broker.port, dir=daemon.dir, **values))
    daemon.start()
    daemon.wait_ready(timeout=20)
    return broker, daemon
