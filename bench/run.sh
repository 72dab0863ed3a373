#!/bin/bash
# `make bench`: one run, every figure a ratio against references measured in the same run.
#   direct      loadgen -> fake upstream
#   nginx       loadgen -> nginx-light (proxy_buffering off, keep-alive upstream) -> fake upstream
#   streamgate  loadgen -> streamgate (SSE, WebSocket, long-poll) -> fake upstream
# at concurrency 1, 100 and 1000, plus cancel latency and memory per idle WebSocket.
# Loopback only; bounded in time (a few minutes on 2 cores).
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
OUT=$ROOT/bench/results
WORK=$(mktemp -d /tmp/sg-bench.XXXXXX)
CHUNKS=${CHUNKS:-64}
INTERVAL_MS=${INTERVAL_MS:-20}
CONCURRENCIES=${CONCURRENCIES:-"1 100 1000"}
IDLE_SOCKETS=${IDLE_SOCKETS:-10000}
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

FAKE=$BUILD/tools/fake_upstream/fake-upstream
LOADGEN=$BUILD/tools/loadgen/loadgen
GATEWAY=$BUILD/streamgate
for b in "$FAKE" "$LOADGEN" "$GATEWAY"; do
  [ -x "$b" ] || { echo "bench: missing $b (run make build)"; exit 1; }
done

PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a program that prints "... listening on [http://]127.0.0.1:PORT" and echoes the port.
start_server() {
  local name=$1; shift
  "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$WORK/$name.out" 2>/dev/null; then
      echo "$pid $(grep -m1 -o 'listening on .*' "$WORK/$name.out" | sed 's/.*://')"
      return
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.err" >&2; exit 1; }
    sleep 0.05
  done
  echo "bench: $name did not start" >&2; exit 1
}

# utime+stime of a process in seconds.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

read -r FAKE_PID FAKE_PORT < <(start_server fake "$FAKE" --listen 127.0.0.1:0 \
  --chunks "$CHUNKS" --interval-ms "$INTERVAL_MS")

# nginx-light as the pass-through reference.
NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  upstream fake { server 127.0.0.1:$FAKE_PORT; keepalive 1024; }
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
NGINX
/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/nginx/nginx.pid" ] && break; sleep 0.05; done
NGINX_MASTER=$(cat "$WORK/nginx/nginx.pid")
NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -1)

cat > "$WORK/streamgate.json" <<JSON
{
  "log": {"level": "warn"},
  "http": {"max_connections": 50000},
  "sessions": {"max_sessions": 50000, "resume_window_ms": 5000},
  "providers": [
    {"name": "fake", "preset": "custom", "base_url": "http://127.0.0.1:$FAKE_PORT/v1",
     "models": ["fake"], "quota": {"max_concurrent": 0, "rpm": 0}}
  ]
}
JSON
read -r GW_PID GW_PORT < <(start_server streamgate "$GATEWAY" --config "$WORK/streamgate.json" \
  --listen 127.0.0.1:0)

echo "bench: fake upstream :$FAKE_PORT, nginx :$NGINX_PORT, streamgate :$GW_PORT"

# One measured run: target name, protocol, url, concurrency. Writes $OUT/<name>-c<C>.json with
# the CPU seconds each process spent during the run.
measure() {
  local name=$1 proto=$2 url=$3 conc=$4 extra=${5:-}
  local requests=$(( conc < 100 ? 50 : conc * 2 ))
  local gw_pid=""
  case $name in nginx) gw_pid=$NGINX_WORKER ;; streamgate-*) gw_pid=$GW_PID ;; esac
  local f0 g0 f1 g1
  f0=$(cpu_of "$FAKE_PID"); g0=0; [ -n "$gw_pid" ] && g0=$(cpu_of "$gw_pid")
  # shellcheck disable=SC2086
  "$LOADGEN" --protocol "$proto" --url "$url" --model fake --concurrency "$conc" \
    --requests "$requests" --timeout-s 60 --max-duration-s 120 $extra \
    --json "$WORK/run.json" > "$WORK/run.txt"
  f1=$(cpu_of "$FAKE_PID"); g1=0; [ -n "$gw_pid" ] && g1=$(cpu_of "$gw_pid")
  local rss=0
  [ -n "$gw_pid" ] && rss=$(hwm_kib "$gw_pid")
  python3 - "$WORK/run.json" "$OUT/$name-c$conc.json" "$name" "$conc" "$requests" \
    "$(awk "BEGIN{print $f1 - $f0}")" "$(awk "BEGIN{print $g1 - $g0}")" "$rss" <<'PY'
import json, sys
src, dst, name, conc, requests, fake_cpu, gw_cpu, rss = sys.argv[1:]
r = json.load(open(src))
r.update({"target": name, "concurrency": int(conc), "requests": int(requests),
          "upstream_cpu_s": float(fake_cpu), "gateway_cpu_s": float(gw_cpu),
          "gateway_cpu_ms_per_stream": 1000 * float(gw_cpu) / max(1, int(requests)),
          "gateway_peak_rss_kib": int(rss)})
json.dump(r, open(dst, "w"), indent=1)
PY
  echo "  $name c=$conc: ok $(python3 -c "import json;r=json.load(open('$OUT/$name-c$conc.json'));print(r['ok'],'/',r['requests'],' ttft p50',r['ttft_ms']['p50'],'p99',r['ttft_ms']['p99'])")"
}

for c in $CONCURRENCIES; do
  echo "bench: concurrency $c"
  measure direct sse "http://127.0.0.1:$FAKE_PORT" "$c"
  measure nginx sse "http://127.0.0.1:$NGINX_PORT" "$c"
  measure streamgate-sse sse "http://127.0.0.1:$GW_PORT" "$c"
  measure streamgate-ws ws "http://127.0.0.1:$GW_PORT" "$c"
  measure streamgate-poll poll "http://127.0.0.1:$GW_PORT" "$c"
done

echo "bench: cancel latency"
curl -s -X POST "http://127.0.0.1:$FAKE_PORT/stats/reset" > /dev/null
measure cancel-ws ws "http://127.0.0.1:$GW_PORT" 100 \
  "--cancel-after 5 --upstream-stats http://127.0.0.1:$FAKE_PORT/stats"
measure cancel-sse sse "http://127.0.0.1:$GW_PORT" 100 \
  "--cancel-after 5 --upstream-stats http://127.0.0.1:$FAKE_PORT/stats"

echo "bench: $IDLE_SOCKETS idle WebSocket connections"
RSS_BEFORE=$(rss_kib "$GW_PID")
"$LOADGEN" --protocol ws --url "http://127.0.0.1:$GW_PORT" --idle-connections "$IDLE_SOCKETS" \
  --hold-s 3 --json "$WORK/idle.json" > "$WORK/idle.txt" &
LG=$!
PEAK=0
while kill -0 "$LG" 2>/dev/null; do
  r=$(rss_kib "$GW_PID"); [ "$r" -gt "$PEAK" ] && PEAK=$r
  sleep 0.2
done
wait "$LG" || true
python3 - "$WORK/idle.json" "$OUT/idle-ws.json" "$RSS_BEFORE" "$PEAK" "$IDLE_SOCKETS" <<'PY'
import json, sys
src, dst, before, peak, n = sys.argv[1:]
r = json.load(open(src)) if open(src).read().strip() else {}
r.update({"sockets": int(n), "rss_before_kib": int(before), "rss_peak_kib": int(peak),
          "kib_per_socket": (int(peak) - int(before)) / max(1, int(n))})
json.dump(r, open(dst, "w"), indent=1)
PY

python3 "$ROOT/bench/report.py" "$OUT" "$ROOT/docs/benchmarks.md" "$ROOT/docs/benchmarks-ttft.png"
echo "bench: results in $OUT, table in docs/benchmarks.md"
