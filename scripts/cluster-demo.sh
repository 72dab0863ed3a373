#!/usr/bin/env bash
# Three streamgate nodes in one cluster (docs/cluster.md) behind nginx as the load balancer,
# all on loopback: `make cluster-demo`.
#
#   scripts/cluster-demo.sh           start everything, print what runs where, wait for
#                                     Ctrl-C (or SIGTERM), then stop everything
#   scripts/cluster-demo.sh --check   start everything, stream through nginx and check the
#                                     answers, the spread over the nodes and a WebSocket
#                                     upgrade, stop everything; exit 0 or say what failed
#
# Environment:
#   STREAMGATE_BIN  the server binary (default: build/streamgate)
#   DEMO_DIR        work dir for certificates, configurations, logs and nginx's files
#                   (default: cluster-demo, or cluster-demo-check for --check, next to the binary)
#   DEMO_PORT       nginx's port on 127.0.0.1 (default 8090; with --check a free port)
#   WEB_ROOT        the browser page the nodes serve at / (default: web/ of this repository)
#
# The nodes' client, admin and cluster ports are free ports picked at start-up, so a demo
# and a check (ctest tools_cluster_demo_check) can run next to each other and to other tests.
# nginx runs as the current user with its prefix, pid file, logs and temp dirs in DEMO_DIR.
set -uo pipefail

mode=demo
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h | --help)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${STREAMGATE_BIN:-$repo/build/streamgate}
web_root=${WEB_ROOT:-$repo/web}
nginx_bin=${NGINX:-/usr/sbin/nginx}
nodes=(a b c)

die() {
  echo "cluster-demo: $*" >&2
  exit 1
}

[ -x "$bin" ] || die "no server binary at $bin (run 'make build', or set STREAMGATE_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
command -v "$nginx_bin" >/dev/null 2>&1 || die "nginx not found at $nginx_bin (Debian: apt-get install nginx-light)"
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

if [ "$mode" = check ]; then
  dir=${DEMO_DIR:-$(dirname "$bin")/cluster-demo-check}
else
  dir=${DEMO_DIR:-$(dirname "$bin")/cluster-demo}
fi
mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd)

# ---------------------------------------------------------------------------------------
# Everything started here is stopped on any exit: Ctrl-C, SIGTERM, an error, or the end of
# the check. Only these pids are ever signalled.
node_pids=()
nginx_pid=
watchdog_pid=
stopping=0

stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  local pids=() p
  [ -n "$watchdog_pid" ] && kill "$watchdog_pid" 2>/dev/null
  # nginx first, so that no new request reaches a node that is going away.
  if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill -TERM "$nginx_pid" 2>/dev/null
    pids+=("$nginx_pid")
  fi
  for p in "${node_pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null # a graceful drain (streams finish, at most drain_ms)
      pids+=("$p")
    fi
  done
  [ "${#pids[@]}" -eq 0 ] && return
  [ "$mode" = demo ] && echo "cluster-demo: stopping nginx and the nodes..."
  local deadline=$((SECONDS + 8)) alive
  while :; do
    alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [ "${#alive[@]}" -eq 0 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster-demo: still running after SIGTERM, killing: ${alive[*]}" >&2
      kill -KILL "${alive[@]}" 2>/dev/null
      break
    fi
    sleep 0.1
  done
  wait 2>/dev/null
}

# shellcheck disable=SC2317  # called from the traps below
on_signal() {
  local sig=$1
  if [ "$mode" = demo ] && [ "$sig" != ALRM ]; then
    echo ""
    stop_all
    echo "cluster-demo: stopped."
    exit 0
  fi
  [ "$sig" = ALRM ] && echo "cluster-demo: FAIL: the check did not finish within its time limit" >&2
  stop_all
  exit 1
}

trap stop_all EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP
trap 'on_signal ALRM' ALRM

# The whole check is bounded: a watchdog ends it (and everything it started) after 60 s,
# however it got stuck. A normal pass takes a few seconds.
if [ "$mode" = check ]; then
  main_pid=$$
  (
    # Stopped with SIGTERM by stop_all; takes its sleep along, so nothing is left behind.
    trap 'kill "$sleep_pid" 2>/dev/null; exit 0' TERM
    sleep "${CHECK_TIMEOUT:-60}" &
    sleep_pid=$!
    wait "$sleep_pid" && kill -ALRM "$main_pid" 2>/dev/null
  ) </dev/null >/dev/null 2>&1 &
  watchdog_pid=$!
fi

# Dumps the tail of every log of the work dir, to say why something failed.
show_logs() {
  local f
  for f in "$dir"/node-*.log "$dir"/node-*.out "$dir"/nginx-error.log; do
    [ -s "$f" ] || continue
    echo "--- ${f#"$dir"/} (last lines) ---" >&2
    tail -n 15 "$f" >&2
  done
}

fail() {
  echo "cluster-demo: FAIL: $*" >&2
  show_logs
  exit 1
}

# ---------------------------------------------------------------------------------------
# Ports: free ones, all bound at once and released together, so they differ from each other.
# Three per node (client HTTP, admin, cluster), plus nginx's unless DEMO_PORT is given.
pick_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

want=$((3 * ${#nodes[@]}))
read -r -a ports <<<"$(pick_ports $((want + 1)))" || die "cannot pick free ports"
[ "${#ports[@]}" -eq $((want + 1)) ] || die "cannot pick free ports"
if [ -n "${DEMO_PORT:-}" ]; then
  lb_port=$DEMO_PORT
elif [ "$mode" = check ]; then
  lb_port=${ports[$want]}
else
  lb_port=8090
fi
case "$lb_port" in
  '' | *[!0-9]*) die "DEMO_PORT must be a port number, not '$lb_port'" ;;
esac
declare -A http_port admin_port cluster_port
i=0
for n in "${nodes[@]}"; do
  http_port[$n]=${ports[$i]}
  admin_port[$n]=${ports[$((i + 1))]}
  cluster_port[$n]=${ports[$((i + 2))]}
  i=$((i + 3))
done

# ---------------------------------------------------------------------------------------
# Certificates: a CA and one certificate per node (kept between runs while valid).
certs=$dir/certs
for f in "$certs/ca.pem" "${nodes[@]/#/$certs/}"; do
  f=${f%.pem}.pem
  if [ -f "$f" ] && ! openssl x509 -checkend 86400 -noout -in "$f" >/dev/null 2>&1; then
    rm -rf "$certs" # one expires within a day: make them all again
    break
  fi
done
"$repo/scripts/cluster-certs.sh" "$certs" "${nodes[@]}" || die "cannot make the certificates"

# ---------------------------------------------------------------------------------------
# The nodes' configurations: one quota pool shared by the cluster (owned by node a), the
# built-in mock provider with a visible token pace.
rm -f "$dir"/node-*.json "$dir"/node-*.log "$dir"/node-*.out "$dir"/nginx-*.log \
  "$dir/nginx.conf" "$dir/nginx.pid"
for n in "${nodes[@]}"; do
  peers=""
  for p in "${nodes[@]}"; do
    [ "$p" = "$n" ] && continue
    peers+="${peers:+, }{\"id\": \"$p\", \"address\": \"127.0.0.1:${cluster_port[$p]}\"}"
  done
  cat >"$dir/node-$n.json" <<EOF
{
  "quota_pools": {"shared": {"max_concurrent": 8, "rpm": 1000}},
  "providers": [
    {"name": "mock", "kind": "mock", "models": ["mock"], "pool": "shared",
     "mock": {"tokens": 48, "first_token_ms": 150, "interval_ms": 40}}
  ],
  "cluster": {
    "node_id": "$n",
    "listen": "127.0.0.1:${cluster_port[$n]}",
    "peers": [$peers],
    "tls": {"certificate": "$certs/$n.pem", "key": "$certs/$n.key", "ca": "$certs/ca.pem"},
    "owners": {"shared": "a"},
    "rejoin_hold_ms": 500
  }
}
EOF
done

# ---------------------------------------------------------------------------------------
# nginx: streaming-friendly reverse proxy, round robin over the nodes' client ports.
mkdir -p "$dir/nginx-temp" || die "cannot create $dir/nginx-temp"
user_line=""
# As root, nginx's workers would switch to 'nobody'; keep them the current user instead.
[ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
upstream_servers=""
for n in "${nodes[@]}"; do
  upstream_servers+="    server 127.0.0.1:${http_port[$n]} max_fails=1 fail_timeout=5s;  # node $n"$'\n'
done
cat >"$dir/nginx.conf" <<EOF
# Made by scripts/cluster-demo.sh: nginx in front of three streamgate nodes.
$user_line
daemon off;
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;

events {
  worker_connections 1024;
}

http {
  # Every path nginx writes to lives in the work dir: no root, no /var.
  client_body_temp_path $dir/nginx-temp/client_body;
  proxy_temp_path $dir/nginx-temp/proxy;
  fastcgi_temp_path $dir/nginx-temp/fastcgi;
  uwsgi_temp_path $dir/nginx-temp/uwsgi;
  scgi_temp_path $dir/nginx-temp/scgi;

  # Which node served each request: \$upstream_addr (the check counts these).
  log_format upstreams '\$remote_addr [\$time_iso8601] "\$request" \$status \$body_bytes_sent '
                       'upstream=\$upstream_addr upstream_status=\$upstream_status '
                       'request_time=\$request_time';
  access_log $dir/nginx-access.log upstreams;

  # WebSocket: pass the upgrade on; other requests get an empty Connection header so that
  # the upstream keep-alive connections below are reused.
  map \$http_upgrade \$connection_upgrade {
    default upgrade;
    ''      '';
  }

  upstream streamgate {
    zone streamgate 64k;  # round robin state shared by the worker processes
$upstream_servers    keepalive 32;
  }

  server {
    listen 127.0.0.1:$lb_port;
    server_name localhost;
    # streamgate limits bodies itself (http.max_body_bytes, 1 MiB) with a JSON error.
    client_max_body_size 2m;

    location / {
      proxy_pass http://streamgate;
      proxy_http_version 1.1;
      proxy_set_header Host \$http_host;  # the page's WebSocket Origin check compares with it
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;

      # Streaming: every token goes out as it arrives (SSE, chunked HTTP, long-poll).
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_cache off;
      gzip off;
      chunked_transfer_encoding on;
      # streamgate sends 'X-Accel-Buffering: no' on streams; pass it on to any proxy
      # further out (nginx hides X-Accel-* by default).
      proxy_pass_header X-Accel-Buffering;

      # A stream may stay quiet for long (reasoning models, WebSockets between messages).
      proxy_connect_timeout 2s;
      proxy_send_timeout 1h;
      proxy_read_timeout 1h;

      # Another node only when this one could not be reached or gave no response header:
      # a POST that was sent is never repeated (no non_idempotent), and a stream that
      # started is never retried (nginx cannot once the response began).
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 5s;
    }
  }
}
EOF

"$nginx_bin" -t -q -e "$dir/nginx-error.log" -p "$dir/" -c "$dir/nginx.conf" 2>"$dir/nginx-test.log" ||
  { cat "$dir/nginx-test.log" >&2; die "nginx rejects $dir/nginx.conf"; }

# ---------------------------------------------------------------------------------------
# Start the nodes, and wait until each listens and sees both peers.
for n in "${nodes[@]}"; do
  "$bin" --config "$dir/node-$n.json" --listen "127.0.0.1:${http_port[$n]}" \
    --admin-listen "127.0.0.1:${admin_port[$n]}" --web-root "$web_root" \
    >"$dir/node-$n.out" 2>"$dir/node-$n.log" &
  node_pids+=($!)
done

deadline=$((SECONDS + 15))
for i in "${!nodes[@]}"; do
  n=${nodes[$i]}
  until grep -q "^streamgate listening on http://" "$dir/node-$n.out" 2>/dev/null; do
    kill -0 "${node_pids[$i]}" 2>/dev/null || fail "node $n exited during start-up"
    [ "$SECONDS" -lt "$deadline" ] || fail "node $n did not start listening within 15 s"
    sleep 0.1
  done
done

connected_peers() { # node → its streamgate_cluster_peers{state="connected"}, or nothing
  curl -fsS --max-time 2 "http://127.0.0.1:${admin_port[$1]}/metrics" 2>/dev/null |
    sed -n 's/^streamgate_cluster_peers{state="connected"} \([0-9]*\).*/\1/p'
}
deadline=$((SECONDS + 15))
for i in "${!nodes[@]}"; do
  n=${nodes[$i]}
  until [ "$(connected_peers "$n")" = $((${#nodes[@]} - 1)) ]; do
    kill -0 "${node_pids[$i]}" 2>/dev/null || fail "node $n exited"
    [ "$SECONDS" -lt "$deadline" ] || fail "node $n did not connect to its peers within 15 s"
    sleep 0.1
  done
done

# ---------------------------------------------------------------------------------------
# Start nginx, and wait until a request passes through it to a ready node.
"$nginx_bin" -e "$dir/nginx-error.log" -p "$dir/" -c "$dir/nginx.conf" \
  >"$dir/nginx-stdout.log" 2>&1 &
nginx_pid=$!
deadline=$((SECONDS + 10))
until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$lb_port/readyz" 2>/dev/null; do
  kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited during start-up (port $lb_port taken? set DEMO_PORT)"
  [ "$SECONDS" -lt "$deadline" ] || fail "nginx did not answer on 127.0.0.1:$lb_port within 10 s"
  sleep 0.1
done

node_of_port() { # upstream address → node id
  local n
  for n in "${nodes[@]}"; do
    [ "$1" = "127.0.0.1:${http_port[$n]}" ] && { echo "$n"; return; }
  done
  echo "?"
}

where() {
  local n
  echo "nginx (load balancer)  http://127.0.0.1:$lb_port/   pid $nginx_pid"
  echo "                       logs: $dir/nginx-access.log, $dir/nginx-error.log"
  for i in "${!nodes[@]}"; do
    n=${nodes[$i]}
    printf 'node %s  client http://127.0.0.1:%s  admin http://127.0.0.1:%s/metrics  cluster 127.0.0.1:%s (mTLS)  pid %s\n' \
      "$n" "${http_port[$n]}" "${admin_port[$n]}" "${cluster_port[$n]}" "${node_pids[$i]}"
  done
  echo "quota pool 'shared' (8 concurrent streams, 1000 rpm for the whole cluster) is owned by node a"
  echo "configurations, certificates and node logs (node-*.log): $dir"
}

# ---------------------------------------------------------------------------------------
if [ "$mode" = demo ]; then
  echo ""
  echo "streamgate cluster demo: 3 nodes behind nginx"
  echo ""
  where
  echo ""
  echo "Try, in another terminal (run it a few times: nginx sends each request to the next node):"
  echo ""
  echo "  curl -N http://127.0.0.1:$lb_port/v1/chat/completions -H 'Content-Type: application/json' \\"
  echo "    -d '{\"model\":\"mock\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'"
  echo ""
  echo "  tail -f $dir/nginx-access.log    # upstream= shows which node served it"
  echo ""
  echo "or open http://127.0.0.1:$lb_port/ in a browser (SSE and WebSocket through nginx)."
  echo "Ctrl-C stops nginx and the nodes."
  # Until a signal, or until something started here dies on its own.
  wait -n "$nginx_pid" "${node_pids[@]}"
  for i in "${!nodes[@]}"; do
    kill -0 "${node_pids[$i]}" 2>/dev/null || fail "node ${nodes[$i]} exited"
  done
  fail "nginx exited"
fi

# ---------------------------------------------------------------------------------------
# --check
echo "cluster-demo --check: nodes and nginx are up"
where
failures=0
problem() {
  echo "cluster-demo: FAIL: $*" >&2
  failures=$((failures + 1))
}

url=http://127.0.0.1:$lb_port
body='{"model":"mock","stream":true,"mock":{"tokens":12,"first_token_ms":0,"interval_ms":15},"messages":[{"role":"user","content":"Hello"}]}'

# 1. Streaming requests through nginx, 3 rounds of 3 at once: each must end with [DONE].
requests=9
lines_before=$(wc -l <"$dir/nginx-access.log" 2>/dev/null || echo 0)
for round in 1 2 3; do
  pids=()
  for k in 1 2 3; do
    r=$(((round - 1) * 3 + k))
    curl -sS -N --max-time 15 "$url/v1/chat/completions" -H 'Content-Type: application/json' \
      -d "$body" -o "$dir/check-stream-$r.txt" -w '%{http_code}\n' >"$dir/check-stream-$r.code" \
      2>"$dir/check-stream-$r.err" &
    pids+=($!)
  done
  wait "${pids[@]}"
done
for r in $(seq 1 "$requests"); do
  code=$(cat "$dir/check-stream-$r.code" 2>/dev/null)
  last=$(grep -v '^[[:space:]]*$' "$dir/check-stream-$r.txt" 2>/dev/null | tail -n 1 | tr -d '\r')
  chunks=$(grep -c '^data: {' "$dir/check-stream-$r.txt" 2>/dev/null)
  if [ "$code" != 200 ] || [ "$last" != "data: [DONE]" ] || [ "${chunks:-0}" -lt 12 ]; then
    problem "stream $r: HTTP ${code:-none}, ${chunks:-0} chunks, last line '${last}' $(cat "$dir/check-stream-$r.err" 2>/dev/null)"
  fi
done
[ "$failures" = 0 ] && echo "ok: $requests streams through nginx, each ended with 'data: [DONE]'"

# 2. Spread: nginx's access log says which node served each stream.
declare -A served
while read -r addr; do
  n=$(node_of_port "$addr")
  served[$n]=$((${served[$n]:-0} + 1))
done < <(tail -n +"$((lines_before + 1))" "$dir/nginx-access.log" |
  grep '"POST /v1/chat/completions' | sed -n 's/.* upstream=\([^ ]*\) .*/\1/p')
spread=""
for n in "${nodes[@]}"; do spread+=" $n=${served[$n]:-0}"; done
if [ "${#served[@]}" -ge 2 ] && [ -z "${served['?']:-}" ]; then
  echo "ok: the streams were served by ${#served[@]} nodes:$spread"
else
  problem "the streams were not spread over the nodes (from nginx-access.log):$spread ${served['?']:+unknown=${served['?']}}"
fi

# 3. Not buffered: a paced stream's first token arrives through nginx long before its end.
paced='{"model":"mock","stream":true,"mock":{"tokens":10,"first_token_ms":0,"interval_ms":100},"messages":[{"role":"user","content":"Hello"}]}'
timing=$(curl -sS -N --max-time 15 "$url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d "$paced" 2>/dev/null | {
  first="" done_at=""
  while IFS= read -r line; do
    line=${line%$'\r'}
    case "$line" in
      "data: [DONE]") done_at=$EPOCHREALTIME ;;
      "data: {"*) [ -z "$first" ] && first=$EPOCHREALTIME ;;
    esac
  done
  [ -n "$first" ] && [ -n "$done_at" ] && python3 -c "print(int(($done_at - $first) * 1000))"
})
if [ -n "$timing" ] && [ "$timing" -ge 500 ]; then
  echo "ok: tokens pass nginx as they come (first token ${timing} ms before [DONE], 10 tokens 100 ms apart)"
else
  problem "a paced stream arrived in one piece through nginx (first token ${timing:-?} ms before [DONE]; proxy buffering?)"
fi

# 4. WebSocket: the upgrade passes through nginx (101)...
ws=$(curl -sS -i -N --max-time 2 "$url/v1/ws" -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' 2>/dev/null |
  tr -d '\r')
status=$(printf '%s\n' "$ws" | head -n 1)
accept=$(printf '%s\n' "$ws" | grep -i '^sec-websocket-accept:' | head -n 1)
case "$status" in
  "HTTP/1.1 101"*)
    if [ "${accept#*: }" = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ]; then
      echo "ok: WebSocket upgrade through nginx: $status"
    else
      problem "WebSocket upgrade through nginx: $status but accept '${accept}'"
    fi
    ;;
  *) problem "WebSocket upgrade through nginx: expected 101, got '${status:-no answer}'" ;;
esac

# ...and a stream runs over it: start → started, deltas, done.
if ws_result=$(python3 - "$lb_port" 2>&1 <<'EOF'
import base64, json, os, socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n"
           % (sys.argv[1], key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("connection closed during the handshake")
    buf += chunk
head, buf = buf.split(b"\r\n\r\n", 1)
if not head.startswith(b"HTTP/1.1 101"):
    sys.exit("handshake: " + head.split(b"\r\n")[0].decode())
def send(obj):
    data, mask = json.dumps(obj).encode(), os.urandom(4)
    n = len(data)
    hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
def need(n):
    global buf
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed mid-stream")
        buf += chunk
    out, buf = buf[:n], buf[n:]
    return out
send({"type": "start", "id": "w1", "request": {"model": "mock",
      "mock": {"tokens": 8, "first_token_ms": 0, "interval_ms": 10},
      "messages": [{"role": "user", "content": "Hello"}]}})
types = []
while True:
    b0, b1 = need(2)
    n = b1 & 0x7F
    if n == 126: n = struct.unpack("!H", need(2))[0]
    elif n == 127: n = struct.unpack("!Q", need(8))[0]
    payload = need(n)
    op = b0 & 0x0F
    if op == 8: sys.exit("closed by the server: %r" % payload)
    if op != 1: continue
    msg = json.loads(payload)
    types.append(msg.get("type"))
    if msg.get("type") in ("done", "error", "cancelled"):
        break
deltas = types.count("delta")
if types[0] != "started" or types[-1] != "done" or deltas < 8:
    sys.exit("unexpected frames: %s" % types)
print("%d frames (started, %d deltas, done)" % (len(types), deltas))
EOF
); then
  echo "ok: a WebSocket stream through nginx: $ws_result"
else
  problem "a WebSocket stream through nginx: $ws_result"
fi

if [ "$failures" -ne 0 ]; then
  show_logs
  echo "cluster-demo --check: $failures check(s) failed (work dir $dir)" >&2
  exit 1
fi
stop_all
echo "cluster-demo --check: all checks passed"
exit 0
