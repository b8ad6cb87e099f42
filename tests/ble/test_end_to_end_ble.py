"""The whole path for a BLE tag: BlueZ (python-dbusmock with the project's GATT template on a
private bus) → fieldlinkd (ble adapter, router, journal, upstream session over TLS) → the IoT Hub
emulator; and a direct method and a desired property back down to the tag's characteristic."""

import json
import os
import subprocess
import tempfile
import shutil
import time
import unittest

import dbus

from daemon_fixture import Daemon, SOURCE_DIR
from peers import HubEmulator

TEMPLATE = os.path.join(SOURCE_DIR, "tests/fixtures/bluez/bluez_gatt.py")

CONFIG = """\
gateway:
  name: e2e-gw
  state_dir: state
  identity: e2e-gw
hub:
  host: {host}
  port: {port}
  ca_file: {ca}
  token_ttl: 1h
identities:
  - {{ source: "ble://tags/AA:BB:CC:DD:EE:01", device_id: tag-1, key_file: tag-1.key }}
  - {{ source: "gateway://e2e-gw", device_id: e2e-gw, key_file: gw.key }}
adapters:
  - name: tags
    type: ble
    controller: hci0
    devices:
      - mac: AA:BB:CC:DD:EE:01
        characteristics:
          - {{ name: temperature, uuid: 2a6e, type: int16, endian: little, scale: 0.01, read: 200ms }}
          - {{ name: led, uuid: 0000ffe2-0000-1000-8000-00805f9b34fb, type: uint8, writable: true }}
status:
  listen: 127.0.0.1:0
"""


class Bluez:
    """A private bus with BlueZ mocked on it; the daemon is pointed at it as its system bus."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fieldlink-e2e-bluez-")
        self.address = "unix:path=" + os.path.join(self.dir, "bus.sock")
        self.bus_proc = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=" + self.address,
             "--print-address=1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if not self.bus_proc.stdout.readline().startswith("unix:"):
            self.close()
            raise RuntimeError("the private dbus-daemon did not start")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.mock_proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "dbusmock", "--system", "--template", TEMPLATE, "-l",
             os.path.join(self.dir, "mock.log")], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.bus = dbus.bus.BusConnection(self.address)
        deadline = time.monotonic() + 15
        while not self.bus.name_has_owner("org.bluez"):
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("python-dbusmock did not take org.bluez")
            time.sleep(0.02)  # polling a condition with a deadline
        self.mock = dbus.Interface(self.bus.get_object("org.bluez", "/"), "org.bluez.Mock")

    def calls(self, path, method):
        mock = dbus.Interface(self.bus.get_object("org.bluez", path), "org.freedesktop.DBus.Mock")
        return [[a for a in args] for _, args in mock.GetMethodCalls(method)]

    def close(self):
        for p in (getattr(self, "mock_proc", None), self.bus_proc):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.bus_proc.stdout:
            self.bus_proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class EndToEndBle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bluez = cls.hub = cls.daemon = None
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()  # no peer outlives a failed start
            raise

    @classmethod
    def _start(cls):
        cls.bluez = Bluez()
        m = cls.bluez.mock
        m.AddAdapter("hci0", "e2e")
        dev = m.AddDevice("hci0", "AA:BB:CC:DD:EE:01", "Tag")
        svc = m.AddGattService(dev, "service0010", "0000181a-0000-1000-8000-00805f9b34fb")
        m.AddGattCharacteristic(svc, "char0011", "00002a6e-0000-1000-8000-00805f9b34fb",
                                ["read"], dbus.ByteArray(b"\x5a\x08"))
        cls.led = m.AddGattCharacteristic(svc, "char0013", "0000ffe2-0000-1000-8000-00805f9b34fb",
                                          ["read", "write"], dbus.ByteArray(b"\x00"))
        cls.hub = HubEmulator()
        tag_key = cls.hub.add_device("tag-1")
        gw_key = cls.hub.add_device("e2e-gw")
        config = CONFIG.format(host=cls.hub.host, port=cls.hub.mqtt_port, ca=cls.hub.ca_file)
        cls.daemon = Daemon(config, extra_env={"DBUS_SYSTEM_BUS_ADDRESS": cls.bluez.address},
                            files={"tag-1.key": (tag_key, 0o600), "gw.key": (gw_key, 0o600)})
        cls.daemon.start()
        cls.daemon.wait_ready(timeout=20)

    @classmethod
    def tearDownClass(cls):
        for peer in (cls.daemon, cls.hub, cls.bluez):
            if peer is not None:
                peer.close()

    def test_readings_arrive_under_the_tag_identity(self):
        messages = self.hub.tail("tag-1", 2)
        self.assertEqual(len(messages), 2, messages)
        body = json.loads(messages[0]["body"])
        self.assertEqual(body["source"], "ble://tags/AA:BB:CC:DD:EE:01")
        self.assertEqual(body["values"]["temperature"], 21.38)

    def test_a_method_write_lands_on_the_characteristic(self):
        status, answer = self.hub.invoke("tag-1", "write", {"characteristic": "led", "value": 3})
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["status"], 200, answer)
        self.assertEqual(answer["payload"]["written"], "03")
        writes = self.bluez.calls(self.led, "WriteValue")
        self.assertIn([3], [list(w[0]) for w in writes])

    def test_a_desired_property_is_written_and_reported(self):
        status, doc = self.hub.call("PATCH", "/twins/tag-1",
                                    {"properties": {"desired": {"led": 5}}})
        self.assertEqual(status, 200, doc)
        deadline = time.monotonic() + 20
        reported = {}
        while time.monotonic() < deadline and reported.get("led", {}).get("ac") != 200:
            _, twin = self.hub.call("GET", "/twins/tag-1")
            reported = twin["properties"]["reported"]
            time.sleep(0.1)  # polling the twin with a deadline
        self.assertEqual(reported.get("led", {}).get("ac"), 200, reported)
        self.assertEqual(reported["led"]["value"], 5)
        self.assertIn([5], [list(w[0]) for w in self.bluez.calls(self.led, "WriteValue")])


if __name__ == "__main__":
    unittest.main()
