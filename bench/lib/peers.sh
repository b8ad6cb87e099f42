# Shared by the bench/*/run scripts (sourced, not run): a test CA and server certificate, mosquitto
# brokers and fieldlinkd on free loopback ports, each process stopped by `stop_all` (the scripts
# trap EXIT to it). Everything lives under $BENCH_DIR, which the caller creates.

BENCH_PIDS=()

machine_line() {
  echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
    "load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
}

# A port nobody listens on now (good enough on one machine; each script picks its own). Below the
# kernel's ephemeral range: a port there can be the local end of someone's outgoing connection,
# which a connect probe does not see and a broker's bind then fails on ("Address already in use").
free_port() {
  local p low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=50000
  while :; do
    p=$((10000 + RANDOM % (low - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

wait_port() {  # PORT [TENTHS]: until something listens, or fail
  local i
  for ((i = 0; i < ${2:-100}; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# CA + server certificate for localhost and 127.0.0.1 in $BENCH_DIR/tls.
make_certs() {
  mkdir -p "$BENCH_DIR/tls"
  ( cd "$BENCH_DIR/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
      -days 2 -extfile san.ext ) >/dev/null 2>&1
}

# start_broker NAME CONF_TEXT PORT: writes $BENCH_DIR/NAME.conf, starts mosquitto, waits for PORT.
# Sets BROKER_PID. The log is $BENCH_DIR/NAME.log.
start_broker() {
  printf '%s\n' "$2" > "$BENCH_DIR/$1.conf"
  mosquitto -c "$BENCH_DIR/$1.conf" >>"$BENCH_DIR/$1.log" 2>&1 &
  BROKER_PID=$!
  BENCH_PIDS+=("$BROKER_PID")
  wait_port "$3"
}

# The upstream broker: TLS for the forwarders, plain TCP for the counting subscriber; no queue
# limit so the counter never loses a reading to a full queue.
upstream_conf() {  # TLS_PORT PLAIN_PORT [EXTRA LINES...]
  local tls=$1 plain=$2
  shift 2
  set -- "$tls" "$plain" "${@:-persistence false}"
  printf '%s\n' "user root" "log_dest stderr" "log_type error" "log_type warning" \
    "${@:3}" "max_queued_messages 0" "max_keepalive 600" \
    "listener $2 127.0.0.1" "allow_anonymous true" \
    "listener $1 127.0.0.1" "allow_anonymous true" "cafile $BENCH_DIR/tls/ca.crt" \
    "certfile $BENCH_DIR/tls/server.crt" "keyfile $BENCH_DIR/tls/server.key"
}

# The plant's broker (fieldlinkd's local side), plain TCP, no queue limit.
local_conf() {  # PORT
  printf '%s\n' "user root" "log_dest stderr" "log_type error" "log_type warning" \
    "persistence false" "max_queued_messages 0" "listener $1 127.0.0.1" "allow_anonymous true"
}

# The reference: a plant broker whose own bridge forwards everything to the upstream over TLS.
# EXTRA lines are appended (e.g. persistence for the backlog).
bridge_conf() {  # PORT UPSTREAM_TLS_PORT [EXTRA...]
  local port=$1 up=$2
  shift 2
  printf '%s\n' "user root" "log_dest stderr" "log_type error" "log_type warning" \
    "max_queued_messages 0" "$@" "listener $port 127.0.0.1" "allow_anonymous true" \
    "connection bench-bridge" "address 127.0.0.1:$up" "bridge_protocol_version mqttv311" \
    "bridge_cafile $BENCH_DIR/tls/ca.crt" "restart_timeout 1" "topic # out 1"
}

stop_pid() {  # PID: SIGTERM, then SIGKILL after 10 s
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local p
  for p in "${BENCH_PIDS[@]}"; do stop_pid "$p"; done
  BENCH_PIDS=()
}

# The counting subscriber in the background; returns once it is subscribed. Sets COUNTER_PID;
# its result line is in $BENCH_DIR/NAME.out.
start_counter() {  # NAME PORT EXPECT [MORE OPTIONS...]
  local name=$1 port=$2 expect=$3 i
  shift 3
  "$BENCH_BIN/reading_counter" --port "$port" --expect "$expect" "$@" >"$BENCH_DIR/$name.out" &
  COUNTER_PID=$!
  for ((i = 0; i < 100; i++)); do
    grep -q '^ready' "$BENCH_DIR/$name.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "the counting subscriber did not subscribe" >&2
  return 1
}

# fieldlinkd with CONFIG_TEXT in $BENCH_DIR/NAME/; returns once its status endpoint answers.
# Sets FIELDLINKD_PID and STATUS_PORT.
start_fieldlinkd() {  # NAME CONFIG_TEXT
  mkdir -p "$BENCH_DIR/$1"
  printf '%s\n' "$2" > "$BENCH_DIR/$1/fieldlink.yaml"
  STATUS_PORT=$(sed -n 's/.*listen: *127.0.0.1:\([0-9]*\).*/\1/p' "$BENCH_DIR/$1/fieldlink.yaml")
  ( cd "$BENCH_DIR/$1" && exec "$FIELDLINKD" --config fieldlink.yaml ) \
    >>"$BENCH_DIR/$1/fieldlinkd.log" 2>&1 &
  FIELDLINKD_PID=$!
  BENCH_PIDS+=("$FIELDLINKD_PID")
  wait_port "$STATUS_PORT" 200
}

# One figure from fieldlinkd's /status, by a Python expression over the document `s`.
status_value() {  # EXPR
  /usr/bin/python3 -c '
import json, sys, urllib.request
s = json.load(urllib.request.urlopen("http://127.0.0.1:%s/status" % sys.argv[1], timeout=10))
print(eval(sys.argv[2]))' "$STATUS_PORT" "$1"
}

# Field N (1-based word after KEY) of a counter result line: `field OUT KEY`.
result_field() {  # FILE KEY
  sed -n "s/.*\b$2 \([0-9.]*\).*/\1/p" "$BENCH_DIR/$1.out" | tail -1
}

# CPU seconds (user+sys) used so far by PID.
cpu_seconds() {
  awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"
}

# CPU seconds of each thread of PID, one `tid name seconds` line per thread (the name is the
# thread's comm, which fieldlinkd sets for its own threads).
thread_cpu_seconds() {
  local task
  for task in /proc/"$1"/task/*; do
    # comm is the second field, in parentheses, and may hold spaces.
    awk -v t="$(getconf CLK_TCK)" -v tid="${task##*/}" '{
      match($0, /\(.*\)/); name = substr($0, RSTART + 1, RLENGTH - 2); gsub(/ /, "_", name)
      rest = substr($0, RSTART + RLENGTH + 1); split(rest, f, " ")
      print tid, name, (f[12] + f[13]) / t }' "$task/stat" 2>/dev/null || true
  done
}

# fieldlinkd's counters that say whether a reading was refused or lost on the way to the journal,
# summed over their labels (per identity) except `reason`; only the non-zero ones.
loss_counters() {
  /usr/bin/python3 -c '
import re, sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
keep = ("fieldlink_intake_", "fieldlink_readings_total", "fieldlink_readings_dropped_total",
        "fieldlink_journal_appends_total", "fieldlink_journal_drops_total",
        "fieldlink_hub_messages_acked_total", "fieldlink_hub_reconnects_total",
        "fieldlink_journal_commit_seconds_count")
sums = {}
for line in text.splitlines():
    if not line.startswith(keep):
        continue
    name, value = line.rsplit(" ", 1)
    reason = re.search(r"reason=\"([^\"]*)\"", name)
    key = name.split("{")[0].replace("fieldlink_", "") + ("{%s}" % reason.group(1) if reason else "")
    sums[key] = sums.get(key, 0) + float(value)
print(", ".join("%s %d" % (k, v) for k, v in sums.items() if v))' "$STATUS_PORT"
}
