"""One row of bench/identities/daemon-run: the real fieldlinkd with N hub identities against the
project's hub emulator over TLS, measured from outside once every session is online.

  /usr/bin/python3 daemon_probe.py --fieldlinkd BIN --hubemu HUBEMU --identities N
      [--connect-rate R] [--idle-seconds S] [--online-timeout S] [--keep DIR]

Each identity is a fixed binding (`source: mqtt://plant/dNNNNN`, its own key file, mode 0600) in
`identities.d/bench.yaml`: the daemon opens a session for every fixed binding at start, so no
device has to speak first (wildcard families would only get a session on their first reading).
The emulator checks SAS tokens, so every device is registered with its key first.

Prints progress on stderr and one line on stdout:
  daemon identities=N online_s=… key=value …
Exits 1 if not every session came online by the deadline (the line then says how many did).
"""

import argparse
import base64
import bisect
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
TICKS = os.sysconf("SC_CLK_TCK")


def log(text):
    print(f"  [{datetime.datetime.utcnow():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def utc_seconds(iso):
    """Seconds since the epoch of the daemon's `2026-11-26T12:40:01.123Z`."""
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def busiest_second(times):
    """The most events in any window [t, t + 1 s), t running over the events themselves."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


class HubEmulator:
    def __init__(self, hubemu, workdir):
        self.dir = os.path.join(workdir, "hub")
        os.mkdir(self.dir)
        self.log = open(os.path.join(workdir, "hub.log"), "w")
        self.proc = subprocess.Popen(
            ["node", hubemu, "serve", "--data", self.dir, "--mqtt-port", "0", "--http-port", "0"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()  # the "ready" line, or EOF if it died
        m = re.match(r"ready mqtts://([^:]+):(\d+) http://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.close()
            raise RuntimeError(f"hub emulator did not start: {line!r} (see {self.log.name})")
        self.host, self.mqtt_port, self.http_port = m.group(1), int(m.group(2)), int(m.group(3))
        self.ca_file = os.path.join(self.dir, "ca.crt")

    def call_all(self, method, paths, bodies=None, workers=8):
        """(status, document) per path, over a few keep-alive connections in parallel."""
        bodies = bodies or [None] * len(paths)

        def run(chunk):
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=60)
            out = []
            for path, body in chunk:
                data = None if body is None else json.dumps(body)
                conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
                res = conn.getresponse()
                text = res.read().decode()
                out.append((res.status, json.loads(text) if text else None))
            conn.close()
            return out

        pairs = list(zip(paths, bodies))
        chunks = [pairs[i::workers] for i in range(workers)]
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(run, chunks))
        # Back into the order of `paths` (chunk i holds items i, i + workers, …).
        ordered = [None] * len(pairs)
        for i, chunk in enumerate(results):
            for j, r in enumerate(chunk):
                ordered[i + j * workers] = r
        return ordered

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()[0] if value.split() else ""
    return fields


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICKS  # utime, stime (fields 14 and 15)


def sockstat_tcp():
    """(sockets in use, memory KiB) of the TCP line of /proc/net/sockstat (whole machine)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                return int(w[w.index("inuse") + 1]), int(w[w.index("mem") + 1]) * PAGE_KIB
    return 0, 0


def tcp_slab_kib():
    """KiB of `struct tcp_sock` objects in the kernel's TCP slab (whole machine; needs root to
    read /proc/slabinfo, else None): what each socket costs before any buffer."""
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                w = line.split()
                if w and w[0] == "TCP":
                    return int(w[1]) * int(w[3]) // 1024
    except OSError:
        pass
    return None


def daemon_sockets(pid, port):
    """Kernel memory of fieldlinkd's own connections to the hub, from `ss -tmi`: (sockets, bytes
    of receive queue + send queue + forward allocation + option memory + backlog, summed)."""
    out = subprocess.run(["ss", "-tmpinH", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True, timeout=60).stdout
    count = total = 0
    owned = False
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):  # a socket's first line names its process
            owned = f"pid={pid}," in line
            if owned:
                count += 1
            continue
        m = re.search(r"skmem:\(r(\d+),rb\d+,t(\d+),tb\d+,f(\d+),w(\d+),o(\d+),bl(\d+)", line)
        if owned and m:
            r, _, f, w, o, bl = map(int, m.groups())
            total += r + w + f + o + bl  # t (in the qdisc) is already part of w
    return count, total


def timed_get(port, path, pid, times=5):
    """(median ms, worst ms, bytes, daemon CPU ms per request) of GET path on the status
    endpoint. The endpoint runs on the core loop, so its CPU time is time the loop is not turning."""
    spent, size = [], 0
    cpu_before = cpu_seconds(pid)
    for _ in range(times):
        start = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path)
        body = conn.getresponse().read()
        conn.close()
        spent.append((time.monotonic() - start) * 1000)
        size = len(body)
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / times
    spent.sort()
    return spent[len(spent) // 2], spent[-1], size, cpu_ms


def status(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/status")
    doc = json.loads(conn.getresponse().read())
    conn.close()
    return doc


def write_config(workdir, hub, identities, args, status_port):
    keys = os.path.join(workdir, "keys")
    os.mkdir(keys, 0o700)
    lines = []
    for device_id, key in identities:
        path = os.path.join(keys, device_id + ".key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (key + "\n").encode())
        os.close(fd)
        source = "mqtt://plant/d" + device_id.rsplit("-", 1)[1]
        lines.append(f'- {{ source: "{source}", device_id: {device_id}, key_file: {path} }}')
    os.mkdir(os.path.join(workdir, "identities.d"))
    with open(os.path.join(workdir, "identities.d", "bench.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(workdir, "fieldlink.yaml"), "w") as f:
        f.write(f"""gateway:
  name: bench-gw
  state_dir: {workdir}/state
log:
  level: notice
hub:
  host: {hub.host}
  port: {hub.mqtt_port}
  ca_file: {hub.ca_file}
  connect_rate: {args.connect_rate}/s
  keepalive: {args.keepalive}
status:
  listen: 127.0.0.1:{status_port}
""")


def metrics_sample(port):
    """(connects granted so far, sessions online) from /metrics: cheaper than /status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    granted = re.search(r"^fieldlink_hub_connects_granted_total (\S+)$", text, re.M)
    online = re.search(r'^fieldlink_hub_sessions\{state="online"\} (\S+)$', text, re.M)
    return (int(float(granted.group(1))) if granted else 0,
            int(float(online.group(1))) if online else 0)


def wait_online(daemon, port, n, deadline):
    """Polls /metrics once a second, recording the daemon's own count of connects let through
    its pacing, until it says all N are online; then asks /status, which has the last word.
    Returns (sessions online per /status, [(monotonic time, connects granted)])."""
    samples = []
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"fieldlinkd exited with {daemon.returncode}")
        try:
            granted, online = metrics_sample(port)
            samples.append((time.monotonic(), granted))
            if online == n:
                sessions = status(port).get("sessions") or []
                if sum(1 for s in sessions if s["state"] == "online") == n:
                    return n, samples
        except (OSError, ValueError, http.client.HTTPException):
            pass  # not listening yet
        time.sleep(1.0)  # a poll period, not a synchronisation
    sessions = status(port).get("sessions") or []
    return sum(1 for s in sessions if s["state"] == "online"), samples


def grant_rates(samples):
    """(fastest, average) connects granted per second between polls during the ramp, as text;
    "-" when the ramp was over within one poll period."""
    ramp = [(t, g) for t, g in samples if g > 0]
    rates = [(g1 - g0) / (t1 - t0) for (t0, g0), (t1, g1) in zip(samples, samples[1:]) if t1 > t0]
    if len(ramp) < 2 or not rates:
        return "-", "-"
    (t0, g0), (t1, g1) = ramp[0], ramp[-1]
    return f"{max(rates):.0f}", f"{(g1 - g0) / (t1 - t0):.0f}"


def stop(proc, timeout=30):
    """SIGTERM, then SIGKILL after `timeout` s; returns the seconds it took to exit."""
    start = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return time.monotonic() - start


def probe(args, workdir):
    n = args.identities
    hub = HubEmulator(args.hubemu, workdir)
    daemon = None
    try:
        ids = [(f"bench-{i:05d}", base64.b64encode(os.urandom(32)).decode()) for i in range(n)]
        start = time.monotonic()
        done = hub.call_all("PUT", [f"/devices/{d}" for d, _ in ids],
                            [{"authentication": {"type": "sas", "symmetricKey": {"primaryKey": k}}}
                             for _, k in ids])
        refused = [d for (d, _), (code, _) in zip(ids, done) if code != 200]
        if refused:
            raise RuntimeError(f"the emulator refused {len(refused)} devices, first {refused[0]}")
        log(f"{n} devices registered in {time.monotonic() - start:.1f} s")
        status_port = free_port()
        write_config(workdir, hub, ids, args, status_port)
        tcp_before = sockstat_tcp()
        slab_before = tcp_slab_kib()
        with open(os.path.join(workdir, "fieldlinkd.log"), "w") as daemon_log:
            launched = time.time()
            launched_mono = time.monotonic()
            daemon = subprocess.Popen([args.fieldlinkd, "--config", "fieldlink.yaml"],
                                      cwd=workdir, stdout=subprocess.DEVNULL, stderr=daemon_log)
        online, samples = wait_online(daemon, status_port, n,
                                      launched_mono + args.online_timeout)
        polled_s = time.monotonic() - launched_mono
        ramp_cpu = cpu_seconds(daemon.pid)  # everything since launch: start-up and connects
        ramp_hub_cpu = cpu_seconds(hub.proc.pid)
        sessions = status(status_port)["sessions"]
        if online != n:
            print(f"daemon identities={n} online={online} error=not_all_online_after_"
                  f"{args.online_timeout:.0f}s")
            return 1
        online_at = [utc_seconds(s["since"]) for s in sessions]
        fastest_grants, average_grants = grant_rates(samples)
        online_s = max(online_at) - launched
        log(f"all {n} online {online_s:.1f} s after launch (seen by polling at {polled_s:.1f} s)")

        # After the CONNACK each session GETs its twin and subscribes; let those answers land
        # before the idle window (nothing else is scheduled until the first keep-alive).
        time.sleep(args.settle_seconds)
        pid = daemon.pid
        cpu_before = cpu_seconds(pid)
        time.sleep(args.idle_seconds)  # the idle window: nothing is asked of the daemon
        idle_pct = (cpu_seconds(pid) - cpu_before) / args.idle_seconds * 100
        st = proc_status(pid)
        rss_kib, hwm_kib, threads = int(st["VmRSS"]), int(st["VmHWM"]), int(st["Threads"])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        tcp_after = sockstat_tcp()
        slab_after = tcp_slab_kib()
        socks, sock_bytes = daemon_sockets(pid, hub.mqtt_port)
        state_dir = os.path.join(workdir, "state")
        journal_kib = sum(os.path.getsize(os.path.join(state_dir, f)) for f in
                          os.listdir(state_dir) if f.startswith("journal.db")) / 1024
        st_med, st_max, st_size, st_cpu = timed_get(status_port, "/status", pid)
        me_med, me_max, me_size, me_cpu = timed_get(status_port, "/metrics", pid)
        # Building a document of megabytes may raise the daemon's peak: VmHWM again.
        hwm_after_gets = int(proc_status(pid)["VmHWM"])
        # Still all online after the idle window, and nobody had to connect twice?
        sessions = status(status_port)["sessions"]
        still_online = sum(1 for s in sessions if s["state"] == "online")
        attempts = sum(s["connect_attempts"] for s in sessions)
        reconnects = sum(s["reconnects"] for s in sessions)
        errors = sum(1 for s in sessions if s["last_error"])

        # Connect pacing as the hub saw it: when each CONNECT reached the emulator.
        stats = hub.call_all("GET", [f"/devices/{d}/connection-stats" for d, _ in ids])
        connects = [utc_seconds(a["time"]) for code, doc in stats if code == 200
                    for a in doc["attempts"]]
        hub_attempts = len(connects)
        hub_connected = sum(1 for code, doc in stats if code == 200 and doc["connected"])
        span = max(connects) - min(connects) if connects else 0
        stop_s = stop(daemon)
        log(f"fieldlinkd stopped in {stop_s:.1f} s, exit {daemon.returncode}")
        fields = {
            "online_s": f"{online_s:.1f}", "rss_mib": f"{rss_kib / 1024:.1f}",
            "hwm_mib": f"{hwm_kib / 1024:.1f}", "rss_per_identity_kib": f"{rss_kib / n:.1f}",
            "threads": threads, "fds": fds, "idle_cpu_pct": f"{idle_pct:.2f}",
            "sockstat_tcp_inuse": f"{tcp_before[0]}->{tcp_after[0]}",
            "sockstat_tcp_kib": f"{tcp_before[1]}->{tcp_after[1]}",
            "tcp_slab_kib": f"{slab_before}->{slab_after}" if slab_after is not None else "-",
            "daemon_sockets": socks, "daemon_socket_kib": f"{sock_bytes / 1024:.1f}",
            "journal_kib": f"{journal_kib:.0f}",
            "status_ms": f"{st_med:.1f}", "status_max_ms": f"{st_max:.1f}",
            "status_kib": f"{st_size / 1024:.1f}", "status_cpu_ms": f"{st_cpu:.0f}",
            "metrics_ms": f"{me_med:.1f}", "metrics_cpu_ms": f"{me_cpu:.0f}",
            "metrics_max_ms": f"{me_max:.1f}", "metrics_kib": f"{me_size / 1024:.1f}",
            "hwm_after_gets_mib": f"{hwm_after_gets / 1024:.1f}",
            "connect_rate": args.connect_rate, "connect_attempts": attempts,
            "hub_connects": hub_attempts, "connect_span_s": f"{span:.1f}",
            "online_after_idle": still_online, "hub_connected": hub_connected,
            "granted_per_s_max": fastest_grants, "granted_per_s_avg": average_grants,
            "ramp_cpu_s": f"{ramp_cpu:.1f}", "ramp_hub_cpu_s": f"{ramp_hub_cpu:.1f}",
            "busiest_second_hub": busiest_second(connects),
            "busiest_second_online": busiest_second(online_at), "reconnects": reconnects,
            "sessions_with_error": errors, "stop_s": f"{stop_s:.1f}",
            "exit": daemon.returncode,
        }
        print(f"daemon identities={n} " + " ".join(f"{k}={v}" for k, v in fields.items()),
              flush=True)
        return 0
    finally:
        if daemon is not None:
            stop(daemon, timeout=10)
        hub.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fieldlinkd", required=True)
    p.add_argument("--hubemu", required=True)
    p.add_argument("--identities", type=int, required=True)
    p.add_argument("--connect-rate", type=int, default=100)
    p.add_argument("--idle-seconds", type=float, default=30)
    p.add_argument("--keepalive", default="4m",
                   help="hub.keepalive; an idle window shorter than it may hold no PINGREQ")
    p.add_argument("--settle-seconds", type=float, default=5)
    p.add_argument("--online-timeout", type=float, default=0,
                   help="default: 3 x N / connect rate + 60 s")
    p.add_argument("--keep", help="work in this (new) folder and keep it, for the logs")
    args = p.parse_args()
    args.fieldlinkd = os.path.abspath(args.fieldlinkd)
    if not args.online_timeout:
        args.online_timeout = 3 * args.identities / args.connect_rate + 60
    if args.keep:
        os.makedirs(args.keep)
        workdir = os.path.abspath(args.keep)
    else:
        workdir = tempfile.mkdtemp(prefix="fieldlink-bench-ident-")
    try:
        return probe(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
