#!/usr/bin/env python3
"""Turns bench/results/*.json into docs/benchmarks.md (tables, targets) and a gnuplot PNG.

Every figure is reported against the references measured in the same run: 'direct'
(loadgen -> fake upstream), 'nginx' (pass-through reverse proxy) and 'curl-relay' (the same
pass-through through libcurl alone, tools/curl_relay). Added latencies are
percentile differences: streamgate's p99 minus direct's p99 at the same concurrency."""
import glob
import json
import os
import platform
import subprocess
import sys

results_dir, md_path, png_path = sys.argv[1:4]
runs = {}
for path in glob.glob(os.path.join(results_dir, "*-c*.json")):
    r = json.load(open(path))
    runs[(r["target"], r["concurrency"])] = r
info_path = os.path.join(results_dir, "run-info.json")
info = json.load(open(info_path)) if os.path.exists(info_path) else {}

targets = ["direct", "nginx", "curl-relay", "streamgate-sse", "streamgate-ws", "streamgate-poll"]
concurrencies = sorted({c for (t, c) in runs if t in targets})
# The same references and transports with each client reusing its connection (--keep-alive).
ka_targets = ["ka-direct", "ka-nginx", "ka-curl-relay", "ka-streamgate-sse", "ka-streamgate-ws"]
ka_concurrencies = sorted({c for (t, c) in runs if t in ka_targets})


def pct(r, metric, p):
    return ((r or {}).get(metric) or {}).get(p)


def diff(a, b):
    return None if a is None or b is None else a - b


def fmt(x, digits=2):
    return "–" if x is None else f"{x:.{digits}f}"


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        return (p.stdout.strip() or p.stderr.strip()).splitlines()[0]
    except Exception:
        return "?"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def added(t, c, metric, p, ref="direct"):
    return diff(pct(runs.get((t, c)), metric, p), pct(runs.get((ref, c)), metric, p))


lines = ["# Benchmarks", "",
         "Produced by `make bench` (bench/run.sh, bench/report.py) in one run; raw JSON in "
         "`bench/results/`. The upstream is the project's fake upstream serving a paced stream "
         f"({info.get('chunks', 64)} chunks, {info.get('interval_ms', 20)} ms apart). *Added* "
         "figures are percentile differences against *direct* (loadgen → fake upstream) at "
         "the same concurrency in the same run; *nginx* is nginx-light as a streaming reverse "
         "proxy, the pass-through floor; *curl-relay* (tools/curl_relay) relays the same stream "
         "through libcurl and nothing else, on one thread: the floor of any gateway built on "
         "libcurl, as streamgate is. Each stream opens its own client connection, except in "
         "the keep-alive section. "
         "Runs of 100 streams or more are closed loops whose first streams start evenly over "
         f"{info.get('ramp_s', '?')} s (one stream's length; each slot then restarts when its "
         "stream ends), the steady state of that many users; the *start-up storm* section "
         "starts them all in the same instant.", ""]
if info.get("gateway_upstream") == "mock":
    lines += ["> **Note:** this build had no HTTP provider, so streamgate was measured with its "
              "built-in mock provider pacing the same stream, without the upstream hop; its "
              "figures are not yet a like-for-like comparison with nginx.", ""]
lines += ["## Machine", "",
          f"- CPU: {os.cpu_count()} × {cpu_model()}",
          f"- Kernel: {platform.release()}",
          f"- nginx: {run(['/usr/sbin/nginx', '-v'])}",
          f"- Compiler: {run(['c++', '--version'])}",
          f"- streamgate: git {info.get('git', '?')}, Release build",
          f"- Whole run: {info.get('seconds', '?')} s", ""]

def run_table(title, names, c, ref):
    """One table: every target in `names` at concurrency c, added figures against `ref`."""
    out = [title, "",
           "| target | ok / streams | TTFT p50 ms | TTFT p99 ms | added TTFT p50 ms | added TTFT p99 ms "
           "| gap p99 ms | added gap p99 ms | gateway CPU ms/stream | gateway peak RSS MiB "
           "| upstream CPU s | loadgen CPU s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in names:
        r = runs.get((t, c))
        if not r:
            continue
        gw = t != ref
        out.append(
            f"| {t} | {r['ok']} / {r['requests']} | {fmt(pct(r, 'ttft_ms', 'p50'))} | "
            f"{fmt(pct(r, 'ttft_ms', 'p99'))} | {fmt(added(t, c, 'ttft_ms', 'p50', ref) if gw else None)} | "
            f"{fmt(added(t, c, 'ttft_ms', 'p99', ref) if gw else None)} | {fmt(pct(r, 'gap_ms', 'p99'))} | "
            f"{fmt(added(t, c, 'gap_ms', 'p99', ref) if gw else None)} | "
            f"{fmt(r['gateway_cpu_ms_per_stream'] if gw else None)} | "
            f"{fmt(r['gateway_peak_rss_kib'] / 1024 if gw else None, 1)} | "
            f"{fmt(r['upstream_cpu_s'])} | {fmt(r.get('cpu_s'))} |")
    errors = [f"{t}: {r['errors']}" for t in names if (r := runs.get((t, c))) and r.get("errors")]
    if errors:
        out += ["", "Failed streams: " + "; ".join(errors)]
    return out + [""]


for c in concurrencies:
    lines += run_table(f"## Concurrency {c}", targets, c, "direct")

if ka_concurrencies:
    lines += ["## Keep-alive connections reused", "",
              "The same closed loops with `loadgen --keep-alive`: each client sends its next "
              "request on the connection of its last, as the openai SDKs do (SSE: HTTP/1.1 "
              "keep-alive once the chunked body has ended; WebSocket: the next `start` on the "
              "same socket). TTFT then counts from the request's write, with no connect in it. "
              "*Added* figures are against *ka-direct* at the same concurrency; *connections* is "
              "how many each run opened (one per client when every connection was kept).", ""]
    for c in ka_concurrencies:
        table = run_table(f"### Concurrency {c}", ka_targets, c, "ka-direct")
        opened = [f"{t} {r['connections_opened']}" for t in ka_targets
                  if (r := runs.get((t, c))) and "connections_opened" in r]
        if opened:
            table.insert(-1, "")
            table.insert(-1, f"Connections opened for {c} clients: " + ", ".join(opened) + ".")
        lines += table

# CPU per stream as ratios to both pass-through references.
def cpu(t, c):
    r = runs.get((t, c))
    return r["gateway_cpu_ms_per_stream"] if r else None


def ratio(a, b):
    return "–" if a is None or not b else f"{a / b:.2f}×"


lines += ["## CPU per stream against the references", "",
          "Gateway CPU (user + system, `/proc/<pid>/stat`) per stream, and its ratio to nginx's "
          "and to curl-relay's in the same run. *curl-relay / nginx* is what libcurl alone "
          "costs over nginx; *streamgate / curl-relay* is what streamgate adds on top of libcurl.", "",
          "| concurrency | nginx ms | curl-relay ms | curl-relay / nginx | SSE ms | SSE / nginx "
          "| SSE / curl-relay | WS ms | WS / nginx | WS / curl-relay |",
          "|---|---|---|---|---|---|---|---|---|---|"]
for c in concurrencies:
    n, k, e, w = (cpu(t, c) for t in ["nginx", "curl-relay", "streamgate-sse", "streamgate-ws"])
    lines.append(f"| {c} | {fmt(n)} | {fmt(k)} | {ratio(k, n)} | {fmt(e)} | {ratio(e, n)} "
                 f"| {ratio(e, k)} | {fmt(w)} | {ratio(w, n)} | {ratio(w, k)} |")
lines.append("")

variants = ["shared-streamgate-sse", "drivers2-streamgate-sse", "loops2-streamgate-sse"]
placement = sorted({c for (t, c) in runs if t in variants})
if placement:
    lines += ["## Where the curl driver runs", "",
              "*streamgate-sse* is the default (one curl driver on a thread of its own, which "
              "also writes the SSE tokens to their clients); two more gateways run in the same "
              "run: *shared-streamgate-sse* with `http.upstream_on_io_threads`, the driver on "
              "the I/O thread, *drivers2-streamgate-sse* with `upstream_threads: 2`, two "
              "drivers on two threads, and *loops2-streamgate-sse* with `http.threads: 2` and "
              "`http.upstream_on_io_threads`: two I/O loops, each with its own curl driver, a "
              "stream's transfer on its client's loop (docs/architecture.md, *I/O loops*).", ""]
    for c in placement:
        lines += run_table(f"### Concurrency {c}", ["direct", "streamgate-sse"] + variants,
                           c, "direct")

storm = sorted({c for (t, c) in runs if t == "storm-direct"})
for c in storm:
    lines += run_table(f"## Start-up storm: {c} streams started in the same instant",
                       ["storm-direct", "storm-nginx", "storm-streamgate-sse"], c, "storm-direct")

lines += ["## Cancel latency", "",
          "Cancel sent after 5 deltas (WebSocket `cancel` frame, long-poll `POST .../cancel`, SSE: "
          "connection closed) → acknowledged (`cancelled` frame / 200), and → the fake upstream saw "
          "its connection close (from its `/stats`, matched in order; within one `/stats` round trip).",
          "", "| transport | cancels | ack p50 ms | ack p99 ms | upstream closed p50 ms | upstream closed p99 ms |",
          "|---|---|---|---|---|---|"]
for p in ["ws", "sse", "poll"]:
    r = runs.get((f"cancel-{p}", 100))
    if r:
        lines.append(f"| {p} | {r['ok']} / {r['requests']} | {fmt(pct(r, 'cancel_ack_ms', 'p50'))} | "
                     f"{fmt(pct(r, 'cancel_ack_ms', 'p99'))} | {fmt(pct(r, 'cancel_upstream_ms', 'p50'))} | "
                     f"{fmt(pct(r, 'cancel_upstream_ms', 'p99'))} |")

cancel_txt = os.path.join(results_dir, "upstream-cancel.txt")
if os.path.exists(cancel_txt):
    lines += ["", "The same path without load, one cancel at a time, in-process "
              "(`bench/upstream_cancel_bench.cpp`: *driver* = `curl_driver::cancel` → the fake upstream "
              "sees the close; *end-to-end* = an SSE client disconnects → session → upstream stream → "
              "driver → close):", "", "```"] + open(cancel_txt).read().strip().splitlines() + ["```"]

idle_path = os.path.join(results_dir, "idle-ws.json")
idle = json.load(open(idle_path)) if os.path.exists(idle_path) else None
if idle:
    lines += ["", "## Idle WebSocket connections", "",
              f"{idle['sockets']} sockets requested, {idle.get('open', 0)} open "
              f"({idle.get('failed', '?')} failed): gateway RSS {idle['rss_before_kib'] / 1024:.1f} MiB → "
              f"{idle['rss_peak_kib'] / 1024:.1f} MiB, **{fmt(idle['kib_per_socket'], 1)} KiB per socket**."]

# Targets from issue 7, judged on this run.
def verdict(ok):
    return "–" if ok is None else ("met" if ok else "**missed**")


def at_most(a, b):
    return None if a is None or b is None else a <= b


best = lambda metric, p, c: min((v for v in (added(f"streamgate-{x}", c, metric, p)
                                            for x in ["sse", "ws", "poll"]) if v is not None),
                                default=None)
sse100 = added("streamgate-sse", 100, "ttft_ms", "p99")
# The references' own figures beside the gateway's, where a target is absolute or about CPU.
refs100 = ", ".join(f"{t} {fmt(added(t, 100, 'ttft_ms', 'p99'))}" for t in ["nginx", "curl-relay"])
rows = [("Added TTFT p99 at 100 streams ≤ 0.5 ms (SSE)", f"{fmt(sse100)} ({refs100})",
         verdict(at_most(sse100, 0.5)))]
for p in ["sse", "ws"]:
    t = f"streamgate-{p}"
    for q in ["p50", "p99"]:
        a, n = added(t, 1000, "ttft_ms", q), added("nginx", 1000, "ttft_ms", q)
        rows.append((f"Added TTFT {q} at 1000 ≤ nginx's ({p})", f"{fmt(a)} vs {fmt(n)}",
                     verdict(at_most(a, n))))
    a, n = added(t, 1000, "gap_ms", "p99"), added("nginx", 1000, "gap_ms", "p99")
    rows.append((f"Added gap p99 at 1000 ≤ nginx's ({p})", f"{fmt(a)} vs {fmt(n)}", verdict(at_most(a, n))))
    r = runs.get((t, 1000))
    rows.append((f"100% connection success at 1000 ({p})", f"{r['ok']} / {r['requests']}" if r else "–",
                 verdict(r["ok"] == r["requests"] if r else None)))
    for c in [100, 1000]:
        g, n = runs.get((t, c)), runs.get(("nginx", c))
        if g and n:
            k = runs.get(("curl-relay", c))
            floor = f" (curl-relay {k['gateway_cpu_ms_per_stream']:.2f})" if k else ""
            rows.append((f"CPU per stream ≤ nginx's at {c} ({p})",
                         f"{g['gateway_cpu_ms_per_stream']:.2f} vs {n['gateway_cpu_ms_per_stream']:.2f} ms{floor}",
                         verdict(g["gateway_cpu_ms_per_stream"] <= n["gateway_cpu_ms_per_stream"])))
# Issue 22: CPU per stream at most 1.25x curl-relay's (libcurl and nothing else).
for p in ["sse", "ws"]:
    for c in [100, 1000]:
        g, k = cpu(f"streamgate-{p}", c), cpu("curl-relay", c)
        if g and k:
            rows.append((f"CPU per stream ≤ 1.25× curl-relay's at {c} ({p})",
                         f"{g:.2f} vs {k:.2f} ms = {g / k:.2f}×", verdict(g / k <= 1.25)))
# Issue 22: long-poll's TTFT p50 at 1000 at most 3x SSE's.
lp, ss = pct(runs.get(("streamgate-poll", 1000)), "ttft_ms", "p50"), pct(runs.get(("streamgate-sse", 1000)), "ttft_ms", "p50")
if lp is not None and ss:
    rows.append(("Long-poll TTFT p50 at 1000 ≤ 3× SSE's", f"{fmt(lp)} vs {fmt(ss)} ms = {lp / ss:.1f}×",
                 verdict(lp <= 3 * ss)))
# Issue 22: at 1 and 100 streams, added TTFT p99 at most nginx's + 0.5 ms, on fresh connections
# and on kept ones, each against its own mode's direct run.
for mode, prefix in [("fresh connections", ""), ("keep-alive", "ka-")]:
    for c in [1, 100]:
        n = added(f"{prefix}nginx", c, "ttft_ms", "p99", f"{prefix}direct")
        for p in ["sse", "ws"]:
            a = added(f"{prefix}streamgate-{p}", c, "ttft_ms", "p99", f"{prefix}direct")
            rows.append((f"Added TTFT p99 at {c} ≤ nginx's + 0.5 ms ({p}, {mode})",
                         f"{fmt(a)} vs {fmt(n)} + 0.5",
                         verdict(at_most(a, None if n is None else n + 0.5))))
for p in ["ws", "poll"]:
    r = runs.get((f"cancel-{p}", 100))
    v = pct(r, "cancel_ack_ms", "p99")
    rows.append((f"Cancel latency p99 ≤ 5 ms ({p}, to ack)", fmt(v), verdict(at_most(v, 5))))
for p in ["ws", "sse", "poll"]:
    r = runs.get((f"cancel-{p}", 100))
    v = pct(r, "cancel_upstream_ms", "p99")
    if v is not None:
        rows.append((f"Cancel latency p99 ≤ 5 ms ({p}, to upstream close)", fmt(v), verdict(at_most(v, 5))))
# Access control's share of a stream (issue 21: at most 2 %): the micro-benchmark of all it
# does for one keyed stream, against the gateway's CPU per stream measured in this run.
accounting = None
access_path = os.path.join(results_dir, "micro-bench_access.json")
if os.path.exists(access_path):
    try:
        for b in json.load(open(access_path)).get("benchmarks", []):
            if b["name"] == "BM_stream_accounting":
                scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0}[b["time_unit"]]
                accounting = b["cpu_time"] * scale  # ms
    except (ValueError, KeyError):
        pass
for p in ["sse", "ws"]:
    for c in [100, 1000]:
        g = cpu(f"streamgate-{p}", c)
        if accounting is not None and g:
            share = accounting / g
            rows.append((f"Key check and per-key accounting ≤ 2 % of CPU per stream at {c} ({p})",
                         f"{accounting * 1000:.1f} µs of {g:.2f} ms = {100 * share:.2f} %",
                         verdict(share <= 0.02)))
if idle and idle.get("open"):
    mib = (idle["rss_peak_kib"] - idle["rss_before_kib"]) / 1024 * idle["sockets"] / idle["open"]
    rows.append(("10,000 idle WebSockets in ≤ 300 MiB", f"{mib:.0f} MiB (+{idle['rss_before_kib'] / 1024:.0f} base)",
                 verdict(idle["rss_peak_kib"] / 1024 <= 300)))
# Issue 22: actor activations to set a stream up, halved from the 8 counted before it.
activations_path = os.path.join(results_dir, "activations.json")
if os.path.exists(activations_path):
    counted = {}
    for suite in json.load(open(activations_path)).get("testsuites", []):
        for case in suite.get("testsuite", []):
            counted.update({k: v for k, v in case.items() if k.endswith("_activations")})
    setup = counted.get("setup_activations")
    if setup is not None:
        whole = sum(int(counted.get(k, 0)) for k in
                    ["setup_activations", "first_token_activations", "end_activations", "timer_activations"])
        rows.append(("Actor activations to set a stream up ≤ half of 8 (before issue 22)",
                     f"{setup} (the whole stream: {whole}, was 17)", verdict(int(setup) <= 4)))
lines += ["", "## Targets", "", "| target | this run | verdict |", "|---|---|---|"]
lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]

micro = sorted(glob.glob(os.path.join(results_dir, "micro-*.json")))
if micro:
    lines += ["", "## Micro-benchmarks (Google Benchmark)", "",
              "| benchmark | time per op (wall clock for `/real_time`, else CPU) | throughput |", "|---|---|---|"]
    for path in micro:
        try:
            data = json.load(open(path))
        except ValueError:
            continue
        for b in data.get("benchmarks", []):
            tp = (f"{b['bytes_per_second'] / 1e6:.0f} MB/s" if "bytes_per_second" in b else
                  f"{b['items_per_second'] / 1e6:.2f} M/s" if "items_per_second" in b else "–")
            # A benchmark measured in real time (its work runs on other threads, e.g. CAF's
            # workers) is reported in real time: the calling thread's CPU time leaves that out.
            t = b["real_time"] if b["name"].endswith("/real_time") else b["cpu_time"]
            lines.append(f"| {b['name']} | {t:.1f} {b['time_unit']} | {tp} |")

lines += ["", "![added TTFT p99 against concurrency](benchmarks-ttft.png)", ""]
notes_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
if os.path.exists(notes_path):
    lines += [open(notes_path).read().rstrip(), ""]
open(md_path, "w").write("\n".join(lines))

# Chart: added TTFT p99 (ms) against concurrency, one line per target.
data_path = os.path.join(results_dir, "ttft.dat")
with open(data_path, "w") as f:
    f.write("# concurrency " + " ".join(targets[1:]) + "\n")
    for c in concurrencies:
        row = [str(c)] + [fmt(added(t, c, "ttft_ms", "p99"), 3).replace("–", "NaN") for t in targets[1:]]
        f.write(" ".join(row) + "\n")
plot = "; ".join([
    "set terminal png size 900,500", f"set output '{png_path}'", "set logscale x",
    "set xlabel 'concurrent streams'", "set ylabel 'added TTFT p99 over direct (ms)'",
    "set key left top", "set grid", "set datafile missing 'NaN'",
    "plot " + ", ".join(f"'{data_path}' using 1:{i + 2} with linespoints title '{t}'"
                        for i, t in enumerate(targets[1:]))])
subprocess.run(["gnuplot", "-e", plot], check=False)
