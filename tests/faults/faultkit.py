"""What every fault case shares: a hub emulator that can be stopped and started again on the same
ports, paced publishers of sequence-numbered readings on the plant's mosquitto, a ledger that
compares what the hub received with what was sent, and the daemon's /status as JSON.

Readings are {"n": K} with K counting up from 0 per device; the router wraps them as
{"values": {"n": K}, ...} in the hub message body."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

from daemon_fixture import Daemon  # noqa: F401  (re-exported for the cases)
from peers import HUBEMU, HubEmulator, Mosquitto, free_port  # noqa: F401

GROUP_KEY = base64.b64encode(bytes(range(32))).decode()


def derived_key(device_id):
    mac = hmac.new(base64.b64decode(GROUP_KEY), device_id.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls `predicate` until it returns something truthy; fails naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(interval)


class Hub:
    """The IoT Hub emulator on fixed ports once first started, so that a restart comes back where
    the daemon's sessions reconnect. Its telemetry lives in memory only, so a follower thread
    streams every message it stores (GET /messages/events, NDJSON) into `received` as it comes:
    the emulator writes a message to the stream before it sends the PUBACK, so a SIGKILL cannot
    take away a message the daemon saw acknowledged."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fieldlink-faults-hub-")
        self.mqtt_port = 0
        self.http_port = 0
        self.proc = None
        self._lock = threading.Lock()
        self._received = {}  # device id -> [entries], across restarts
        self._count = 0
        self._harvested = 0
        self._follower = None
        self.start()
        self.ca_file = os.path.join(self.dir, "ca.crt")

    def start(self):
        self.proc = subprocess.Popen(
            ["node", HUBEMU, "serve", "--data", self.dir, "--mqtt-port", str(self.mqtt_port),
             "--http-port", str(self.http_port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"ready mqtts://([^:]+):(\d+) (http://127\.0\.0\.1:(\d+))", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
            raise RuntimeError(f"hub emulator did not start: {line!r}")
        self.host, self.mqtt_port, self.url = m.group(1), int(m.group(2)), m.group(3)
        self.http_port = int(m.group(4))
        self._follower = threading.Thread(target=self._follow, args=(self.http_port,),
                                          daemon=True)
        self._follower.start()

    def _follow(self, port):
        # No timeout: the emulator sends the response head only with the first message, and
        # the stream is quiet while nothing is sent. It replays what it holds from the start.
        conn = http.client.HTTPConnection("127.0.0.1", port)
        try:
            conn.request("GET", "/messages/events")
            res = conn.getresponse()
            if res.status != 200:
                raise RuntimeError(f"the emulator's event stream answered {res.status}")
            for line in res:
                if not line.strip():
                    continue
                e = json.loads(line)
                with self._lock:
                    self._received.setdefault(e["device"], []).append(e)
                    self._count += 1
        except (OSError, http.client.HTTPException, ValueError):
            pass  # the emulator went away
        finally:
            conn.close()

    def stop(self, sig=signal.SIGKILL):
        """Stops it as a dead link would (SIGKILL by default)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc = None
        if self._follower:
            self._follower.join(timeout=10)
            self._follower = None

    @property
    def received(self):
        with self._lock:
            return {k: list(v) for k, v in self._received.items()}

    def harvest(self):
        """How many messages arrived since the last call."""
        with self._lock:
            new = self._count - self._harvested
            self._harvested = self._count
            return new

    # The emulator's service-side API, called as the end-to-end tests call it (it needs only
    # self.url); this class differs from theirs in how the emulator is started and stopped.
    call = HubEmulator.call

    def add_device(self, device_id, key):
        status, doc = self.call("PUT", f"/devices/{device_id}", {"authentication": {
            "type": "sas", "symmetricKey": {"primaryKey": key, "secondaryKey": key}}})
        assert status == 200, doc

    def connection_stats(self, device_id):
        status, doc = self.call("GET", f"/devices/{device_id}/connection-stats")
        assert status == 200, doc
        return doc

    def close(self):
        self.stop(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)


def reading_numbers(entries):
    """The `n` of each telemetry entry, in arrival order (entries that are not ours are skipped)."""
    out = []
    for e in entries:
        try:
            out.append(json.loads(e["body"])["values"]["n"])
        except (KeyError, ValueError, TypeError):
            continue
    return out


class Ledger:
    """What was sent per device, compared at the end with what the hub received."""

    def __init__(self):
        self.sent = {}  # device id -> count of readings 0..count-1
        self.lock = threading.Lock()

    def next_number(self, device_id):
        with self.lock:
            n = self.sent.get(device_id, 0)
            self.sent[device_id] = n + 1
            return n

    def total_sent(self):
        return sum(self.sent.values())

    def compare(self, received):
        """Returns a dict: sent, delivered (unique), lost, duplicated, out_of_order, missing
        (device -> sorted numbers) for `received` (device -> entries)."""
        result = {"sent": 0, "delivered": 0, "lost": 0, "duplicated": 0, "out_of_order": 0,
                  "missing": {}, "disorder": {}}
        for device, count in sorted(self.sent.items()):
            got = reading_numbers(received.get(device, []))
            unique = set(got)
            missing = sorted(set(range(count)) - unique)
            result["sent"] += count
            result["delivered"] += len(unique & set(range(count)))
            result["lost"] += len(missing)
            result["duplicated"] += len(got) - len(unique)
            if missing:
                result["missing"][device] = missing
            # Order per identity: the first arrival of each number comes after every smaller one.
            # A redelivery after a reconnect repeats numbers already seen and is not a reordering.
            seen, highest = set(), -1
            for n in got:
                if n in seen:
                    continue
                seen.add(n)
                if n < highest:
                    result["out_of_order"] += 1
                    examples = result["disorder"].setdefault(device, [])
                    if len(examples) < 5:
                        examples.append(f"{n} after {highest}")
                highest = max(highest, n)
        return result

    def all_delivered(self, received):
        for device, count in self.sent.items():
            if not set(range(count)) <= set(reading_numbers(received.get(device, []))):
                return False
        return True


def report(name, result, extra=""):
    line = (f"{name}: sent {result['sent']}, delivered {result['delivered']}, "
            f"lost {result['lost']}, duplicated {result['duplicated']}")
    if result.get("out_of_order"):
        line += f", out of order {result['out_of_order']} (e.g. {result['disorder']})"
    if extra:
        line += f"; {extra}"
    print(line, flush=True)
    return line


class Publishers:
    """Paced QoS 1 publishers of sequence-numbered readings on plant/<key>/telemetry, one
    mosquitto_pub -l per device, driven by one thread at `rate` readings/s in total."""

    def __init__(self, broker_port, device_keys, ledger, rate, device_id=lambda k: f"plant-{k}"):
        self.keys = list(device_keys)
        self.ledger = ledger
        self.rate = rate
        self.device_id = device_id
        self.procs = {
            k: subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker_port),
                                 "-q", "1", "-i", f"faults-pub-{k}-{os.getpid()}", "-t",
                                 f"plant/{k}/telemetry", "-l"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
            for k in self.keys}
        self._stop = threading.Event()
        self._thread = None

    def publish_one(self, key):
        n = self.ledger.next_number(self.device_id(key))
        proc = self.procs[key]
        proc.stdin.write(json.dumps({"n": n}) + "\n")
        proc.stdin.flush()

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        period = 1.0 / self.rate
        next_at = time.monotonic()
        i = 0
        while not self._stop.is_set():
            self.publish_one(self.keys[i % len(self.keys)])
            i += 1
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)  # the devices' pace, not a wait for anything

    def run_for(self, seconds):
        self.start()
        time.sleep(seconds)  # the load's duration, not a synchronisation
        self.stop_load()

    def stop_load(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
            self._thread = None

    def close(self):
        """Ends the load, then each publisher once the broker acknowledged all it sent."""
        self.stop_load()
        failures = []
        for k, p in self.procs.items():
            if p.stdin.closed:
                continue  # closed before
            if p.poll() is None:
                p.stdin.close()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    failures.append(f"{k}: mosquitto_pub did not finish")
            err = p.stderr.read()
            p.stderr.close()
            if p.returncode not in (0, -9) and err.strip():
                failures.append(f"{k}: {err.strip()}")
        return failures


MQTT_CONFIG = """\
gateway: {{ name: faults-gw, state_dir: {state_dir} }}
hub:
  host: {host}
  port: {port}
  ca_file: {ca}
  connect_rate: {connect_rate}
  stall_timeout: {stall_timeout}
identities:
  - {{ source: "mqtt://plant/+", device_id: "plant-{{1}}", group_key_file: group.key }}
adapters:
  - name: plant
    type: mqtt
    port: {broker}
    client_id: fieldlink-faults
    topics:
      - {{ filter: plant/+/telemetry, device: "{{1}}", format: json }}
store:
{store}
status:
  listen: 127.0.0.1:0
"""


def mqtt_config(hub, broker, state_dir="state", connect_rate="50/s", stall_timeout="60s",
                store="  commit_interval: 20ms"):
    return MQTT_CONFIG.format(host=hub.host, port=hub.mqtt_port, ca=hub.ca_file,
                              broker=broker.port, state_dir=state_dir, connect_rate=connect_rate,
                              stall_timeout=stall_timeout, store=store)


def register_plant_devices(hub, keys):
    for k in keys:
        hub.add_device(f"plant-{k}", derived_key(f"plant-{k}"))


def plant_on_mqtt(case, devices, **config):
    """What most cases set up: the hub emulator, the plant's mosquitto, `devices` registered with
    the hub as plant-<key>, and the daemon between them (mqtt_config with `config`); each is
    closed when `case` ends. Sets case.hub, case.broker and case.daemon."""
    case.hub = Hub()
    case.addCleanup(case.hub.close)
    case.broker = Mosquitto()
    case.addCleanup(case.broker.close)
    register_plant_devices(case.hub, devices)
    case.daemon = start_daemon(mqtt_config(case.hub, case.broker, **config))
    case.addCleanup(case.daemon.close)


def start_daemon(config):
    daemon = Daemon(config, files={"group.key": (GROUP_KEY, 0o600)})
    daemon.start()
    daemon.wait_ready(timeout=30)
    return daemon


def restart_daemon(daemon):
    """Starts the same daemon again (same config and state dir) once its process is gone."""
    if daemon.proc.poll() is None:
        raise AssertionError("the daemon is still running")
    daemon.proc.stderr.close()
    daemon.start()
    daemon.wait_ready(timeout=30)


def status(daemon):
    code, body, _ = daemon.get("/status")
    assert code == 200, body
    return json.loads(body)


def drain(hub, ledger, daemon=None, timeout=60, settle=3.0):
    """Waits until the hub holds every sent reading and, given a daemon, its journal is empty;
    or, when readings are missing for good, until the daemon has nothing left to send (journal
    empty, nothing in flight) and the hub received nothing new for `settle` seconds. Then
    harvests once more so late duplicates are counted. Returns the ledger's comparison."""
    quiet_since = [time.monotonic()]

    def done():
        if hub.harvest():
            quiet_since[0] = time.monotonic()
        if daemon is None:
            return ledger.all_delivered(hub.received)
        s = status(daemon)
        idle = s["journal"]["depth"] == 0 and all(x["in_flight"] == 0 for x in s["sessions"])
        if not idle:
            quiet_since[0] = time.monotonic()
            return False
        return ledger.all_delivered(hub.received) or \
            time.monotonic() - quiet_since[0] >= settle

    try:
        wait_until(done, timeout, "every reading delivered and the journal empty", interval=0.5)
    except AssertionError:
        pass  # the comparison below says what is missing
    hub.harvest()
    return ledger.compare(hub.received)


def journaled_numbers(state_dir):
    """(device id, n) of every reading in a stopped daemon's journal file."""
    path = os.path.join(state_dir, "journal.db")
    if not os.path.exists(path):
        return set()
    db = sqlite3.connect(path, timeout=10)
    try:
        rows = db.execute("SELECT identity.device, up.body FROM up JOIN identity "
                          "ON identity.id = up.identity").fetchall()
    finally:
        db.close()
    out = set()
    for device, body in rows:
        try:
            out.add((device, json.loads(bytes(body))["values"]["n"]))
        except (KeyError, ValueError, TypeError):
            continue
    return out
