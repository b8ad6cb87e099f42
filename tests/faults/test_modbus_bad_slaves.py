"""A Modbus RTU line (a socat PTY pair) with two good slaves, one silent, one answering with bad
CRCs, one with wrong lengths and one with random bytes (tests/faults/rtu_responder.py). The good
slaves keep their poll rate within 10 %, every answer they gave reaches the hub in order, the bad
ones are counted per unit, and the daemon stays up."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import faultkit as fk

HERE = os.path.dirname(os.path.abspath(__file__))
POLL_S = 0.5
MEASURE_S = 20
UNITS = {1: "good", 2: "good", 3: "silent", 4: "bad-crc", 5: "long", 6: "garbage"}

CONFIG = """\
gateway: {{ name: faults-gw, state_dir: state }}
hub:
  host: {host}
  port: {port}
  ca_file: {ca}
  connect_rate: 50/s
identities:
{identities}
adapters:
  - name: line
    type: modbus-rtu
    port: {tty}
    baud: 115200
    parity: none
    response_timeout: 100ms
    byte_timeout: 20ms
    devices:
{devices}
status:
  listen: 127.0.0.1:0
"""


class ModbusBadSlaves(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fieldlink-faults-rtu-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        a, b = os.path.join(self.dir, "ttyA"), os.path.join(self.dir, "ttyB")
        self.socat = subprocess.Popen(["socat", "-d", "-d", f"pty,raw,echo=0,link={a}",
                                       f"pty,raw,echo=0,link={b}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop, self.socat)
        for line in self.socat.stderr:  # socat says so once both ends exist
            if "starting data transfer loop" in line:
                break
        self.assertTrue(os.path.exists(a) and os.path.exists(b), "socat made no PTY pair")
        self.state = os.path.join(self.dir, "answers.json")
        self.responder = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "rtu_responder.py"), a, self.state] +
            [f"{u}={b}" for u, b in UNITS.items()], stdout=subprocess.PIPE, text=True)
        self.addCleanup(self.stop, self.responder)
        self.assertEqual(self.responder.stdout.readline().strip(), "READY")
        self.hub = fk.Hub()
        self.addCleanup(self.hub.close)
        files, identities, devices = {}, [], []
        for u in UNITS:
            key = fk.derived_key(f"rtu-{u}")
            self.hub.add_device(f"rtu-{u}", key)
            files[f"rtu-{u}.key"] = (key, 0o600)
            identities.append(f'  - {{ source: "modbus://line/{u}", device_id: rtu-{u}, '
                              f"key_file: rtu-{u}.key }}")
            devices.append(f"      - unit: {u}\n        poll: {int(POLL_S * 1000)}ms\n"
                           f"        points:\n          - {{ name: n, table: holding, "
                           f"address: 0, type: uint16 }}\n          - {{ name: k, table: "
                           f"holding, address: 1, type: uint16 }}")
        config = CONFIG.format(host=self.hub.host, port=self.hub.mqtt_port, ca=self.hub.ca_file,
                               tty=b, identities="\n".join(identities),
                               devices="\n".join(devices))
        self.daemon = fk.Daemon(config, files=files)
        self.addCleanup(self.daemon.close)
        self.daemon.start()
        self.daemon.wait_ready(timeout=30)

    @staticmethod
    def stop(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()

    def units(self):
        s = fk.status(self.daemon)
        adapter = next(a for a in s["adapters"] if a["name"] == "line")
        return {d["unit"]: d for d in adapter["devices"]}

    def test_bad_slaves_do_not_slow_the_good_ones_and_are_counted(self):
        fk.wait_until(lambda: all(self.units()[u]["polls"] > 0 for u in (1, 2)), 20,
                      "the good units polled")
        time.sleep(3)  # the bad units' first timeouts and backoffs are part of the steady state
        before, t0 = self.units(), time.monotonic()
        time.sleep(MEASURE_S)  # the measurement window
        after, t1 = self.units(), time.monotonic()
        rates = {u: (after[u]["polls"] - before[u]["polls"]) / (t1 - t0) for u in (1, 2)}
        self.stop(self.responder)  # no more answers: what it counted is what was sent
        with open(self.state) as f:
            answered = {int(k): v for k, v in json.load(f).items()}
        ledger = fk.Ledger()
        for u in (1, 2):
            ledger.sent[f"rtu-{u}"] = answered[u]
        result = fk.drain(self.hub, ledger, self.daemon, timeout=60)
        counters = {u: {k: after[u][k] for k in ("polls", "timeouts", "bad_frames", "state")}
                    for u in UNITS}
        fk.report("modbus bad slaves", result,
                  f"poll rate of the good units {', '.join(f'{u}: {r:.2f}/s' for u, r in rates.items())}"
                  f" (configured {1 / POLL_S:.2f}/s); per unit {counters}")
        self.assertIsNone(self.daemon.proc.poll(), "the daemon died")
        for u, r in rates.items():
            self.assertAlmostEqual(r, 1 / POLL_S, delta=0.1 / POLL_S, msg=f"unit {u}")
        self.assertGreater(after[3]["timeouts"], 0)
        for u in (4, 5, 6):
            self.assertGreater(after[u]["bad_frames"] + after[u]["timeouts"], 0, f"unit {u}")
        self.assertGreater(after[4]["bad_frames"], 0, "a bad CRC is a bad frame")
        self.assertGreater(after[5]["bad_frames"], 0, "a wrong length is a bad frame")
        self.assertEqual(result["lost"], 0, result["missing"])
        self.assertEqual(result["duplicated"], 0)
        self.assertEqual(result["out_of_order"], 0)


if __name__ == "__main__":
    unittest.main()
