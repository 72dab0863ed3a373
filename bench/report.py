#!/usr/bin/env python3
"""Turns bench/results/*.json into docs/benchmarks.md (tables) and a gnuplot PNG chart.

Every figure is reported against the references measured in the same run: 'direct'
(loadgen -> fake upstream) and 'nginx' (pass-through reverse proxy)."""
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

targets = ["direct", "nginx", "streamgate-sse", "streamgate-ws", "streamgate-poll"]
concurrencies = sorted({c for (_, c) in runs if _ in targets})


def pct(r, metric, p):
    return (r.get(metric) or {}).get(p)


def fmt(x, digits=2):
    return "–" if x is None else f"{x:.{digits}f}"


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip() or \
            subprocess.run(cmd, capture_output=True, text=True, timeout=5).stderr.strip()
    except Exception:
        return "?"


lines = ["# Benchmarks", "",
         "Produced by `make bench` (bench/run.sh, bench/report.py); raw JSON in `bench/results/`.",
         "Upstream: the project's fake upstream serving a paced stream "
         "(64 chunks, 20 ms apart). Added figures are against *direct* in the same run.", "",
         "## Machine", "",
         f"- CPU: {os.cpu_count()} cores, {platform.processor() or platform.machine()}",
         f"- Kernel: {platform.release()}",
         f"- nginx: {version(['/usr/sbin/nginx', '-v'])}",
         f"- compiler: {version(['c++', '--version']).splitlines()[0] if version(['c++', '--version']) else '?'}",
         ""]

for c in concurrencies:
    direct = runs.get(("direct", c))
    lines += [f"## Concurrency {c}", "",
              "| target | ok / requests | TTFT p50 ms | TTFT p99 ms | added TTFT p50 ms | added TTFT p99 ms "
              "| gap p99 ms | added gap p99 ms | gateway CPU ms/stream | gateway peak RSS MiB "
              "| upstream CPU s | loadgen CPU s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in targets:
        r = runs.get((t, c))
        if not r:
            continue
        add50 = add99 = addgap = None
        if direct:
            add50 = pct(r, "ttft_ms", "p50") - pct(direct, "ttft_ms", "p50")
            add99 = pct(r, "ttft_ms", "p99") - pct(direct, "ttft_ms", "p99")
            if pct(r, "gap_ms", "p99") is not None and pct(direct, "gap_ms", "p99") is not None:
                addgap = pct(r, "gap_ms", "p99") - pct(direct, "gap_ms", "p99")
        cpu = r["gateway_cpu_ms_per_stream"] if t != "direct" else None
        rss = r["gateway_peak_rss_kib"] / 1024 if t != "direct" else None
        lines.append(
            f"| {t} | {r['ok']} / {r['requests']} | {fmt(pct(r, 'ttft_ms', 'p50'))} | "
            f"{fmt(pct(r, 'ttft_ms', 'p99'))} | {fmt(add50)} | {fmt(add99)} | "
            f"{fmt(pct(r, 'gap_ms', 'p99'))} | {fmt(addgap)} | {fmt(cpu)} | {fmt(rss, 1)} | "
            f"{fmt(r['upstream_cpu_s'])} | {fmt(r.get('cpu_s'))} |")
    nginx, sse = runs.get(("nginx", c)), runs.get(("streamgate-sse", c))
    if nginx and sse and nginx["gateway_cpu_ms_per_stream"] > 0:
        lines += ["", f"streamgate SSE CPU per stream / nginx: "
                      f"**{sse['gateway_cpu_ms_per_stream'] / nginx['gateway_cpu_ms_per_stream']:.2f}×**"]
    lines.append("")

lines += ["## Cancel latency", "",
          "Cancel sent (WebSocket `cancel` / SSE connection closed) → acknowledged, and → the fake "
          "upstream saw its connection close.", "",
          "| transport | cancels | ack p50 ms | ack p99 ms | upstream closed p50 ms | upstream closed p99 ms |",
          "|---|---|---|---|---|---|"]
for t in ["cancel-ws", "cancel-sse"]:
    r = runs.get((t, 100))
    if r:
        lines.append(f"| {t[7:]} | {r['ok']} | {fmt(pct(r, 'cancel_ack_ms', 'p50'))} | "
                     f"{fmt(pct(r, 'cancel_ack_ms', 'p99'))} | {fmt(pct(r, 'cancel_upstream_ms', 'p50'))} | "
                     f"{fmt(pct(r, 'cancel_upstream_ms', 'p99'))} |")
idle_path = os.path.join(results_dir, "idle-ws.json")
if os.path.exists(idle_path):
    idle = json.load(open(idle_path))
    lines += ["", "## Idle WebSocket connections", "",
              f"{idle['sockets']} idle sockets: gateway RSS {idle['rss_before_kib'] / 1024:.1f} MiB → "
              f"{idle['rss_peak_kib'] / 1024:.1f} MiB, **{idle['kib_per_socket']:.1f} KiB per socket** "
              f"(open: {idle.get('open', idle.get('ok', '?'))})."]

lines += ["", "![added TTFT p99 against concurrency](benchmarks-ttft.png)", ""]
open(md_path, "w").write("\n".join(lines))

# Chart: added TTFT p99 (ms) against concurrency, one line per target.
data_path = os.path.join(results_dir, "ttft.dat")
with open(data_path, "w") as f:
    f.write("# concurrency " + " ".join(targets[1:]) + "\n")
    for c in concurrencies:
        d = runs.get(("direct", c))
        row = [str(c)]
        for t in targets[1:]:
            r = runs.get((t, c))
            row.append(fmt(pct(r, "ttft_ms", "p99") - pct(d, "ttft_ms", "p99")) if r and d else "NaN")
        f.write(" ".join(row).replace("–", "NaN") + "\n")
plot = "; ".join([
    "set terminal pngcairo size 900,500" if False else "set terminal png size 900,500",
    f"set output '{png_path}'", "set logscale x", "set xlabel 'concurrent streams'",
    "set ylabel 'added TTFT p99 over direct (ms)'", "set key left top", "set grid",
    "plot " + ", ".join(f"'{data_path}' using 1:{i + 2} with linespoints title '{t}'"
                        for i, t in enumerate(targets[1:]))])
subprocess.run(["gnuplot", "-e", plot], check=False)
