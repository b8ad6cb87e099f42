"""fieldlinkctl invoke and send-c2d through the control socket of the real fieldlinkd, with a
device on the plant's real mosquitto (the MQTT adapter) and the hub unreachable the whole time:
the socket is for debugging devices on site without the cloud."""

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import unittest

from ctl_fixture import FIELDLINKD, Daemon, ctl, free_port, start_daemon_with_broker, wait_until

KEY = base64.b64encode(bytes(range(32))).decode()

CONFIG = """\
gateway: {{ name: ctl-gw, state_dir: state, identity: gw-test }}
hub:
  host: localhost
  port: {dead_port}
  method_timeout: 3s
identities:
  - {{ source: "mqtt://plant/s1", device_id: plant-s1, key_file: s1.key }}
adapters:
  - name: plant
    type: mqtt
    port: {broker}
    client_id: fieldlink-ctl-control
    topics:
      - {{ filter: plant/+/telemetry, device: "{{1}}", format: json }}
    c2d_topic: plant/{{device}}/c2d
    method_topic: plant/{{device}}/methods/{{method}}
status:
  listen: 127.0.0.1:0
control:
  listen: unix:{dir}/control.sock
"""


def post(path, sock, body):
    """A raw request on the control socket: (HTTP status, JSON answer)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock)
        data = body.encode()
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(data)}\r\n"
                  f"Connection: close\r\n\r\n".encode() + data)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    head, _, text = reply.decode().partition("\r\n\r\n")
    return int(head.split(" ")[1]), json.loads(text)


class ControlSocket(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Nothing listens on dead_port: the hub is down from start to end.
        cls.broker, cls.daemon = start_daemon_with_broker(
            cls, CONFIG, files={"s1.key": (KEY, 0o600)}, dead_port=free_port())
        cls.sock = os.path.join(cls.daemon.dir, "control.sock")

    def ctl(self, *args, **kw):
        return ctl(*args, "--config", self.daemon.config, **kw)

    def test_socket_is_0660_with_the_daemons_group(self):
        st = os.stat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, os.getegid())  # the daemon runs as the test's user here

    def test_ping_works_with_the_hub_down(self):
        sessions = json.loads(self.daemon.get("/status")[1])["sessions"]
        self.assertTrue(sessions)
        self.assertTrue(all(s["state"] != "online" for s in sessions), sessions)
        out = self.ctl("invoke", "gw-test", "ping")
        self.assertEqual(out.returncode, 0, out.stderr)
        status_line, _, payload = out.stdout.partition("\n")
        self.assertEqual(status_line, "status 200")
        self.assertEqual(json.loads(payload), {"pong": True, "gateway": "ctl-gw"})
        # Who did what is in the log; the payload is not.
        self.daemon.wait_stderr(r"control socket: method ping on gw-test from uid %d \(pid \d+\) "
                                r"answered 200" % os.geteuid())
        out = self.ctl("invoke", "gw-test", "ping", "--json")
        self.assertEqual(json.loads(out.stdout), {"status": 200,
                                                  "payload": {"pong": True, "gateway": "ctl-gw"}})

    def test_invoke_reaches_the_device_and_returns_its_answer(self):
        sub = self.broker.subscriber("plant/s1/methods/#", "plant/s1/methods/marker")
        result = {}
        invoker = threading.Thread(target=lambda: result.update(
            out=self.ctl("invoke", "plant-s1", "reset", '{"hard": true}', "--timeout", "20")))
        invoker.start()
        topic, payload = sub.next()
        sub.close()
        self.assertTrue(topic.startswith("plant/s1/methods/reset/"), topic)
        self.assertEqual(json.loads(payload), {"hard": True})
        self.broker.publish_lines(topic + "/res/201", ['{"done": true}'])
        invoker.join(timeout=30)
        out = result["out"]
        self.assertEqual(out.returncode, 0, out.stderr)
        status_line, _, body = out.stdout.partition("\n")
        self.assertEqual(status_line, "status 201")
        self.assertEqual(json.loads(body), {"done": True})

    def test_a_silent_device_is_504_and_exit_1(self):
        out = self.ctl("invoke", "plant-s1", "never-answered", "--timeout", "1")
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("method never-answered on plant-s1: status 504: the device did not answer "
                      "within 1s", out.stderr)

    def test_send_c2d_reaches_the_device(self):
        sub = self.broker.subscriber("plant/s1/#", "plant/s1/marker")
        out = self.ctl("send-c2d", "plant-s1", "open valve 2", "--property", "color=blue",
                       "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        answer = json.loads(out.stdout)
        self.assertEqual(answer["status"], 202)
        self.assertTrue(answer["payload"]["message_id"].startswith("local-"))
        got = sub.next()
        sub.close()
        self.assertEqual(got, ("plant/s1/c2d", "open valve 2"))

    def test_send_c2d_body_from_a_file(self):
        path = os.path.join(self.daemon.dir, "body.txt")
        with open(path, "w") as f:
            f.write("from a file")
        sub = self.broker.subscriber("plant/s1/#", "plant/s1/marker")
        out = self.ctl("send-c2d", "plant-s1", "@" + path)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("status 202\n"), out.stdout)
        self.assertEqual(sub.next(), ("plant/s1/c2d", "from a file"))
        sub.close()

    def test_unknown_identity_is_404_and_exit_1(self):
        out = self.ctl("invoke", "nobody", "reset")
        self.assertEqual(out.returncode, 1)
        self.assertIn("status 404: no device is bound to identity nobody", out.stderr)
        out = self.ctl("send-c2d", "nobody", "x")
        self.assertEqual(out.returncode, 1)
        self.assertIn("status 404", out.stderr)

    def test_bad_json_is_refused(self):
        out = self.ctl("invoke", "plant-s1", "reset", "{nope")
        self.assertEqual(out.returncode, 64)  # fieldlinkctl checks before it sends
        status, answer = post("/devices/plant-s1/methods/reset", self.sock, "{nope")
        self.assertEqual((status, answer["status"]), (400, 400))
        self.assertIn("the payload is not JSON", answer["payload"]["error"])
        self.assertIn("parse error at line 1, column 3", answer["payload"]["error"])

    def test_usage_errors_exit_64(self):
        self.assertEqual(self.ctl("invoke", "plant-s1").returncode, 64)
        self.assertEqual(self.ctl("invoke", "gw-test", "ping", "--timeout", "0").returncode, 64)
        self.assertEqual(self.ctl("send-c2d", "plant-s1", "x", "--property", "nokey").returncode,
                         64)


class ControlSocketOff(unittest.TestCase):
    def test_off_by_default_says_so_and_exits_2(self):
        daemon = Daemon("gateway: { name: off-gw, state_dir: state, identity: gw }\n"
                        "status: { listen: 127.0.0.1:0 }\n")
        try:
            daemon.start()
            daemon.wait_ready(timeout=20)
            out = ctl("invoke", "gw", "ping", "--config", daemon.config)
            self.assertEqual(out.returncode, 2)
            self.assertIn("control.listen is not set in " + daemon.config, out.stderr)
            self.assertEqual([n for n in os.listdir(daemon.dir) if n.endswith(".sock")],
                             ["notify.sock"])
        finally:
            daemon.close()

    def test_a_reload_opens_and_closes_the_socket(self):
        base = ("gateway: { name: r, state_dir: state, identity: gw }\n"
                "status: { listen: 127.0.0.1:0 }\n")
        daemon = Daemon(base)
        try:
            sock = os.path.join(daemon.dir, "control.sock")
            daemon.start()
            daemon.wait_ready(timeout=20)
            self.assertFalse(os.path.exists(sock))
            daemon.write_config(base + f"control: {{ listen: 'unix:{sock}' }}\n")
            daemon.signal(signal.SIGHUP)
            daemon.wait_notification("RELOADING")
            daemon.wait_ready()
            out = ctl("invoke", "gw", "ping", "--config", daemon.config)
            self.assertEqual(out.returncode, 0, out.stderr + daemon.log())
            daemon.write_config(base)
            daemon.signal(signal.SIGHUP)
            daemon.wait_notification("RELOADING")
            daemon.wait_ready()
            self.assertFalse(os.path.exists(sock))
            self.assertEqual(ctl("invoke", "gw", "ping", "--config", daemon.config).returncode, 2)
        finally:
            daemon.close()

    def test_a_stale_socket_file_is_replaced_and_tcp_is_refused(self):
        daemon = Daemon("")
        try:
            sock = os.path.join(daemon.dir, "control.sock")
            stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stale.bind(sock)  # bound, never listening, then abandoned: as after a crash
            stale.close()
            daemon.write_config("gateway: { name: s, state_dir: state, identity: gw }\n"
                                "status: { listen: 127.0.0.1:0 }\n"
                                f"control: {{ listen: 127.0.0.1:9000 }}\n")
            check = subprocess.run([FIELDLINKD, "--check-config", "--config", daemon.config],
                                   capture_output=True, text=True, timeout=30)
            self.assertEqual(check.returncode, 1)
            self.assertIn("control.listen", check.stderr + check.stdout)
            self.assertIn("never on TCP", check.stderr + check.stdout)
            daemon.write_config("gateway: { name: s, state_dir: state, identity: gw }\n"
                                "status: { listen: 127.0.0.1:0 }\n"
                                f"control: {{ listen: 'unix:{sock}' }}\n")
            daemon.start()
            daemon.wait_ready(timeout=20)
            out = ctl("invoke", "gw", "ping", "--config", daemon.config)
            self.assertEqual(out.returncode, 0, out.stderr + daemon.log())
        finally:
            daemon.close()


if __name__ == "__main__":
    unittest.main()
