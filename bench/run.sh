#!/bin/bash
# `make bench`: one run, every figure a ratio against references measured in the same run.
#   direct      loadgen -> fake upstream
#   nginx       loadgen -> nginx-light (proxy_buffering off, keep-alive upstream) -> fake upstream
#   curl-relay  loadgen -> tools/curl_relay (libcurl and nothing else) -> fake upstream
#   streamgate  loadgen -> streamgate (SSE, WebSocket, long-poll) -> fake upstream
# at concurrency 1, 100 and 1000, again at 1 and 100 with each client reusing its connection
# (keep-alive), plus cancel latency, memory per idle WebSocket and the micro-benchmarks.
# Loopback only; bounded in time (a few minutes on 2 cores). An empty STORM, PLACEMENT or
# KEEPALIVE leaves that phase out.
set -euo pipefail

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/results}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
WORK=$(mktemp -d /tmp/sg-bench.XXXXXX)
CHUNKS=${CHUNKS:-64}
INTERVAL_MS=${INTERVAL_MS:-20}
CONCURRENCIES=${CONCURRENCIES:-"1 100 1000"}
IDLE_SOCKETS=${IDLE_SOCKETS:-10000}
PROTOCOLS=${PROTOCOLS:-"sse ws poll"}
# Closed-loop runs of 100 streams or more start their streams evenly over one stream's
# length (then each slot restarts when its stream ends): the steady state of that many
# users. The start-up storm (all streams in the same instant) is measured on its own.
RAMP_S=${RAMP_S:-$(awk "BEGIN{print $CHUNKS * $INTERVAL_MS / 1000}")}
STORM=${STORM-1000}
# Concurrencies at which the curl driver on the I/O thread (http.upstream_on_io_threads) is
# measured against the default, its own thread.
PLACEMENT=${PLACEMENT-"100 1000"}
# Concurrencies measured again with --keep-alive: each client sends its next request on the
# connection of its last (HTTP/1.1 keep-alive, or its WebSocket), as the openai SDKs do.
KEEPALIVE=${KEEPALIVE-"1 100"}
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

FAKE=$BUILD/tools/fake_upstream/fake-upstream
LOADGEN=$BUILD/tools/loadgen/loadgen
GATEWAY=$BUILD/streamgate
RELAY=$BUILD/tools/curl_relay/curl-relay
for b in "$FAKE" "$LOADGEN" "$GATEWAY" "$RELAY"; do
  [ -x "$b" ] || { echo "bench: missing $b (run make build)"; exit 1; }
done
T_START=$(date +%s)

PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a program that prints "... listening on [http://]127.0.0.1:PORT"; sets STARTED_PID
# and STARTED_PORT (empty port: it exited, e.g. on a configuration error).
start_server() {
  local name=$1; shift
  "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  STARTED_PID=$!
  STARTED_PORT=""
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$WORK/$name.out" 2>/dev/null; then
      PIDS+=("$STARTED_PID")
      STARTED_PORT=$(grep -m1 -o 'listening on .*' "$WORK/$name.out" | sed 's/.*://')
      return
    fi
    kill -0 "$STARTED_PID" 2>/dev/null || return 0
    sleep 0.05
  done
  echo "bench: $name did not start" >&2; exit 1
}

# utime+stime of a process in seconds; peak and current RSS in KiB.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

start_server fake "$FAKE" --listen 127.0.0.1:0 --chunks "$CHUNKS" --interval-ms "$INTERVAL_MS"
FAKE_PID=$STARTED_PID FAKE_PORT=$STARTED_PORT
[ -n "$FAKE_PORT" ] || { cat "$WORK/fake.err"; exit 1; }

# nginx-light as the pass-through reference.
NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 65536;
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
NGINX_WORKER=""
for _ in $(seq 1 100); do
  NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -1 || true)
  [ -n "$NGINX_WORKER" ] && break
  sleep 0.05
done

# The libcurl floor: what relaying the same stream through libcurl costs, with nothing of a
# gateway on top (tools/curl_relay).
start_server relay "$RELAY" --upstream "http://127.0.0.1:$FAKE_PORT"
[ -n "$STARTED_PORT" ] || { cat "$WORK/relay.err"; exit 1; }
RELAY_PID=$STARTED_PID RELAY_PORT=$STARTED_PORT

# streamgate in front of the fake upstream (an HTTP provider). A build without HTTP providers
# refuses that configuration; it is then measured with its built-in mock provider pacing the
# same stream, and the report says so.
# One CAF worker, as nginx runs one worker process: on two cores the gateway's curl thread and
# I/O thread already take one each, and a second worker only adds wake-ups (measured 5-25 %
# less CPU per stream with one, bench/notes.md).
gateway_config() {
  cat <<JSON
{
  "log": {"level": "warn"},
  "actor_threads": 1${3:-},
  "http": {"max_connections": 50000${2:-}},
  "sessions": {"max_sessions": 50000, "resume_window_ms": 5000},
  "providers": [$1]
}
JSON
}
gateway_config "{\"name\": \"fake\", \"kind\": \"custom\", \"models\": [\"fake\"],
  \"base_url\": \"http://127.0.0.1:$FAKE_PORT/v1\"}" > "$WORK/streamgate.json"
GATEWAY_UPSTREAM=fake-upstream
start_server streamgate "$GATEWAY" --config "$WORK/streamgate.json" --listen 127.0.0.1:0
if [ -z "$STARTED_PORT" ]; then
  echo "bench: streamgate refused the HTTP provider ($(head -c 200 "$WORK/streamgate.err")); using its mock provider"
  GATEWAY_UPSTREAM=mock
  gateway_config "{\"name\": \"fake\", \"kind\": \"mock\", \"models\": [\"fake\"],
    \"mock\": {\"tokens\": $CHUNKS, \"interval_ms\": $INTERVAL_MS, \"first_token_ms\": 0}}" \
    > "$WORK/streamgate.json"
  start_server streamgate "$GATEWAY" --config "$WORK/streamgate.json" --listen 127.0.0.1:0
  [ -n "$STARTED_PORT" ] || { cat "$WORK/streamgate.err"; exit 1; }
fi
GW_PID=$STARTED_PID GW_PORT=$STARTED_PORT

echo "bench: fake upstream :$FAKE_PORT, nginx :$NGINX_PORT, curl-relay :$RELAY_PORT," \
  "streamgate :$GW_PORT ($GATEWAY_UPSTREAM)"

# One measured run: result name, protocol, url, concurrency, extra loadgen flags. Writes
# $OUT/<name>-c<C>.json with the CPU seconds each process spent during the run.
measure() {
  local name=$1 proto=$2 url=$3 conc=$4 extra=${5:-}
  # At 100 streams, 200 samples would make p99 the second-worst stream, decided by a single
  # hiccup of the host: ten rounds there.
  local requests=$(( conc < 100 ? 20 : conc < 1000 ? conc * 10 : conc * 2 ))
  local gw_pid=""
  case $name in
    *nginx) gw_pid=$NGINX_WORKER ;;
    *curl-relay) gw_pid=$RELAY_PID ;;
    *streamgate-*|cancel-*) gw_pid=${VARIANT_PID:-$GW_PID} ;;
  esac
  if [ "$conc" -ge 100 ] && [[ $name != storm-* ]]; then extra="--ramp-s $RAMP_S $extra"; fi
  local f0 g0 f1 g1
  # Peak RSS per run: reset the process's high-water mark first.
  [ -n "$gw_pid" ] && { echo 5 > "/proc/$gw_pid/clear_refs"; } 2>/dev/null || true
  f0=$(cpu_of "$FAKE_PID"); g0=0; [ -n "$gw_pid" ] && g0=$(cpu_of "$gw_pid")
  # shellcheck disable=SC2086
  "$LOADGEN" --protocol "$proto" --url "$url" --model fake --concurrency "$conc" \
    --requests "$requests" --timeout-s 60 --max-duration-s 90 $extra \
    --json "$WORK/run.json" > "$WORK/run.txt" 2>&1 || true
  f1=$(cpu_of "$FAKE_PID"); g1=0; [ -n "$gw_pid" ] && g1=$(cpu_of "$gw_pid")
  local rss=0
  [ -n "$gw_pid" ] && rss=$(hwm_kib "$gw_pid")
  if [ ! -s "$WORK/run.json" ]; then
    echo "  $name c=$conc: loadgen failed: $(head -c 300 "$WORK/run.txt")"
    return
  fi
  python3 - "$WORK/run.json" "$OUT/$name-c$conc.json" "$name" "$conc" "$requests" \
    "$(awk "BEGIN{print $f1 - $f0}")" "$(awk "BEGIN{print $g1 - $g0}")" "$rss" \
    "$GATEWAY_UPSTREAM" "$extra" <<'PY'
import json, sys
src, dst, name, conc, requests, fake_cpu, gw_cpu, rss, upstream, flags = sys.argv[1:]
r = json.load(open(src))
r.update({"target": name, "concurrency": int(conc), "requests": int(requests),
          "loadgen_flags": flags.strip(),
          "upstream_cpu_s": float(fake_cpu), "gateway_cpu_s": float(gw_cpu),
          "gateway_cpu_ms_per_stream": 1000 * float(gw_cpu) / max(1, int(requests)),
          "gateway_peak_rss_kib": int(rss),
          "gateway_upstream": upstream if "streamgate" in name or name.startswith("cancel") else None})
json.dump(r, open(dst, "w"), indent=1)
PY
  python3 - "$OUT/$name-c$conc.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r.get("ttft_ms") or {}
g = r.get("gap_ms") or {}
print(f"  {r['target']} c={r['concurrency']}: ok {r['ok']}/{r['requests']}  ttft p50 {t.get('p50', '-')}"
      f" p99 {t.get('p99', '-')}  gap p99 {g.get('p99', '-')}  gw cpu {r['gateway_cpu_ms_per_stream']:.2f} ms/stream"
      f"  errors {r.get('errors') or '-'}"
      + (f"  connections {r['connections_opened']}" if "connections_opened" in r else ""))
PY
}

for c in $CONCURRENCIES; do
  echo "bench: concurrency $c"
  measure direct sse "http://127.0.0.1:$FAKE_PORT" "$c"
  measure nginx sse "http://127.0.0.1:$NGINX_PORT" "$c"
  measure curl-relay sse "http://127.0.0.1:$RELAY_PORT" "$c"
  for p in $PROTOCOLS; do measure "streamgate-$p" "$p" "http://127.0.0.1:$GW_PORT" "$c"; done
done

# ka-* names keep their reference's suffix, so measure() finds each gateway's pid as above.
for c in $KEEPALIVE; do
  echo "bench: concurrency $c, keep-alive connections"
  measure ka-direct sse "http://127.0.0.1:$FAKE_PORT" "$c" --keep-alive
  measure ka-nginx sse "http://127.0.0.1:$NGINX_PORT" "$c" --keep-alive
  measure ka-curl-relay sse "http://127.0.0.1:$RELAY_PORT" "$c" --keep-alive
  for p in $PROTOCOLS; do
    [ "$p" = poll ] && continue  # its polls already share a connection within each stream
    measure "ka-streamgate-$p" "$p" "http://127.0.0.1:$GW_PORT" "$c" --keep-alive
  done
done

if [ -n "$STORM" ]; then
  echo "bench: start-up storm, $STORM streams started in the same instant"
  measure storm-direct sse "http://127.0.0.1:$FAKE_PORT" "$STORM"
  measure storm-nginx sse "http://127.0.0.1:$NGINX_PORT" "$STORM"
  measure storm-streamgate-sse sse "http://127.0.0.1:$GW_PORT" "$STORM"
fi

# A second gateway per placement of the curl driver, measured against the default (one driver
# on a thread of its own) in the same run: "shared" on the I/O threads, "drivers2" as two
# drivers on two threads. name | extra top-level JSON | extra "http" JSON
VARIANTS=("shared||, \"upstream_on_io_threads\": true" "drivers2|, \"upstream_threads\": 2|"
  "loops2||, \"threads\": 2, \"upstream_on_io_threads\": true")
# VARIANTS_ONLY="a b": just these.
if [ -n "$PLACEMENT" ] && [ "$GATEWAY_UPSTREAM" = fake-upstream ]; then
  for v in "${VARIANTS[@]}"; do
    IFS='|' read -r vname vtop vhttp <<< "$v"
    if [ -n "${VARIANTS_ONLY:-}" ] && [[ " $VARIANTS_ONLY " != *" $vname "* ]]; then continue; fi
    echo "bench: a second gateway, $vname (where the curl driver runs)"
    gateway_config "{\"name\": \"fake\", \"kind\": \"custom\", \"models\": [\"fake\"],
      \"base_url\": \"http://127.0.0.1:$FAKE_PORT/v1\"}" "$vhttp" "$vtop" > "$WORK/$vname.json"
    start_server "$vname" "$GATEWAY" --config "$WORK/$vname.json" --listen 127.0.0.1:0
    [ -n "$STARTED_PORT" ] || { cat "$WORK/$vname.err"; exit 1; }
    VARIANT_PID=$STARTED_PID
    for c in $PLACEMENT; do
      measure "$vname-streamgate-sse" sse "http://127.0.0.1:$STARTED_PORT" "$c"
    done
    # Until it has exited: a gateway still draining would share the cores with what follows.
    kill "$VARIANT_PID" 2>/dev/null || true
    wait "$VARIANT_PID" 2>/dev/null || true
    unset VARIANT_PID
  done
fi

echo "bench: cancel latency"
STATS_FLAG=""
[ "$GATEWAY_UPSTREAM" = fake-upstream ] && STATS_FLAG="--upstream-stats http://127.0.0.1:$FAKE_PORT"
for p in $PROTOCOLS; do
  measure "cancel-$p" "$p" "http://127.0.0.1:$GW_PORT" 100 "--cancel-after 5 $STATS_FLAG"
done

# The same, without a client in the loop: the curl driver alone and streamgate in-process,
# each against an in-process fake upstream whose abort counter is watched directly.
echo "bench: cancel -> upstream socket closed (in-process)"
"$BUILD/bench/upstream_cancel_bench" 300 | tee "$OUT/upstream-cancel.txt"

echo "bench: $IDLE_SOCKETS idle WebSocket connections"
# On a fresh gateway: one that served the phases above has freed memory in its heap, which
# the idle sockets would reuse, and the figure per socket would come out too small.
start_server idle "$GATEWAY" --config "$WORK/streamgate.json" --listen 127.0.0.1:0
[ -n "$STARTED_PORT" ] || { cat "$WORK/idle.err"; exit 1; }
IDLE_PID=$STARTED_PID
RSS_BEFORE=$(rss_kib "$IDLE_PID")
"$LOADGEN" --protocol ws --url "http://127.0.0.1:$STARTED_PORT" --idle-connections "$IDLE_SOCKETS" \
  --hold-s 3 --timeout-s 30 --json "$WORK/idle.json" > "$WORK/idle.txt" 2>&1 &
LG=$!
PEAK=$RSS_BEFORE
while kill -0 "$LG" 2>/dev/null; do
  r=$(rss_kib "$IDLE_PID"); [ "$r" -gt "$PEAK" ] && PEAK=$r
  sleep 0.1
done
wait "$LG" || true
kill "$IDLE_PID" 2>/dev/null || true
wait "$IDLE_PID" 2>/dev/null || true
cat "$WORK/idle.txt"
python3 - "$WORK/idle.json" "$OUT/idle-ws.json" "$RSS_BEFORE" "$PEAK" "$IDLE_SOCKETS" <<'PY'
import json, os, sys
src, dst, before, peak, n = sys.argv[1:]
r = json.load(open(src)) if os.path.exists(src) and os.path.getsize(src) else {}
opened = r.get("open", 0)
r.update({"sockets": int(n), "rss_before_kib": int(before), "rss_peak_kib": int(peak),
          "kib_per_socket": (int(peak) - int(before)) / opened if opened else None})
json.dump(r, open(dst, "w"), indent=1)
PY

echo "bench: micro-benchmarks"
for b in "$BUILD"/bench/bench_*; do
  [ -x "$b" ] || continue
  "$b" --benchmark_min_time=0.3 --benchmark_format=json > "$OUT/micro-$(basename "$b").json" \
    2> /dev/null || echo "  $(basename "$b") failed"
done

# Actor activations per stream: counted (not timed) on CAF's deterministic test coordinator.
ACTIVATIONS=$BUILD/tests/actors/actors_activations_test
if [ -x "$ACTIVATIONS" ]; then
  echo "bench: actor activations per stream"
  "$ACTIVATIONS" --gtest_output="json:$OUT/activations.json" > /dev/null 2>&1 \
    || echo "  activations_test failed"
fi

python3 - "$OUT/run-info.json" "$GATEWAY_UPSTREAM" "$T_START" "$CHUNKS" "$INTERVAL_MS" "$RAMP_S" <<'PY'
import json, subprocess, sys, time
dst, upstream, t0, chunks, interval, ramp = sys.argv[1:]
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
json.dump({"gateway_upstream": upstream, "seconds": int(time.time()) - int(t0), "git": rev,
           "chunks": int(chunks), "interval_ms": int(interval), "ramp_s": float(ramp)},
          open(dst, "w"), indent=1)
PY
python3 "$ROOT/bench/report.py" "$OUT" "$DOC" "$(dirname "$DOC")/benchmarks-ttft.png"
echo "bench: done in $(( $(date +%s) - T_START )) s; results in $OUT, table in $DOC"
