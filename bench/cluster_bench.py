#!/usr/bin/env python3
"""What cluster mode costs (docs/cluster.md), as ratios against references measured in the
same run, on loopback:

1. Added TTFT of a stream whose quota pool lives on another node. Three nodes a, b, c in one
   cluster; the pool "shared" (max_concurrent 10000: it never queues) is owned by node a.
   Streams sent to node a take their lease from the local pool (reference 1), streams sent
   to node b take it from a through b's pool proxy (one middleman round trip to acquire, one
   message to release), and a single node without a cluster section is reference 2. Same
   streams for all three: `loadgen --keep-alive` at a modest concurrency, fake upstream with
   a few chunks and no delay, a warm-up first, the targets in interleaved rounds.

2. How many leases a second one pool owner grants to remote nodes. Many short streams (1
   chunk, no delay) at a high concurrency for a fixed time against nodes b and c together
   (every lease is granted by a over the cluster link), against the same load sent to node a
   alone (local pool) and to the single node (references), and to node b alone. The owner's
   /admin/providers view gives the exact number of leases it granted in each window
   (granted_total before and after).

All processes are children of this script, on free loopback ports picked at run time, and
are stopped on any exit. Prints a markdown table; writes JSON (--out).

  python3 bench/cluster_bench.py [--build build] [--out build/bench/cluster.json]
"""
import argparse
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
NODES = ["a", "b", "c"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="build dir (default: build)")
    p.add_argument("--out", default=None, help="JSON result (default: BUILD/bench/cluster.json)")
    p.add_argument("--ttft-streams", type=int, default=1000, help="streams per TTFT target (1000)")
    p.add_argument("--ttft-concurrency", type=int, default=4, help="TTFT streams in flight (4)")
    p.add_argument("--ttft-chunks", type=int, default=4, help="chunks per TTFT stream (4)")
    p.add_argument("--rate-seconds", type=float, default=10,
                   help="throughput seconds per target, over all rounds (10)")
    p.add_argument("--rate-concurrency", type=int, default=64,
                   help="streams in flight in each throughput run, split over the nodes loaded (64)")
    p.add_argument("--rounds", type=int, default=2,
                   help="interleaved rounds (ABC, CBA, ...) the streams and seconds are split over (2)")
    p.add_argument("--warmup", type=int, default=50, help="warm-up streams per node (50)")
    p.add_argument("--keep-work", action="store_true", help="keep the work dir (configs, logs)")
    return p.parse_args()


# ------------------------------------------------------------------------------------------
# Processes: every child is recorded and stopped in stop_all(), whatever ends the script.

children = []


def stop_all():
    for p in children:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except OSError:
                pass
    deadline = time.time() + 6
    for p in children:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def on_signal(sig, _frame):
    raise SystemExit(128 + sig)


def free_ports(n):
    """n distinct free loopback ports: all bound at once, then released together."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def spawn(work, name, cmd):
    out = open(os.path.join(work, name + ".out"), "w")
    err = open(os.path.join(work, name + ".err"), "w")
    p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    children.append(p)
    return p


def wait_for_line(work, name, proc, pattern, timeout=15):
    path = os.path.join(work, name + ".out")
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            m = re.search(pattern, f.read())
        if m:
            return m
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = open(os.path.join(work, name + ".err")).read()[-1500:]
    raise RuntimeError(f"{name} did not start ({pattern!r}); stderr:\n{tail}")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def machine_busy_s():
    """CPU seconds the whole machine has spent busy (all cores; /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return (sum(v[:8]) - idle) / CLK_TCK


def http_get(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    return None


def owner_granted(admin_port):
    """granted_total of pool 'shared' in the owner's /admin/providers view."""
    view = json.loads(http_get(f"http://127.0.0.1:{admin_port}/admin/providers"))
    for item in view["providers"]:
        pool = item.get("pool") or {}
        if pool.get("name") == "shared":
            return int(pool["granted_total"])
    raise RuntimeError("no pool 'shared' in /admin/providers")


# ------------------------------------------------------------------------------------------
# Configuration: the same gateway settings everywhere (those of bench/run.sh), one cluster
# section more on the cluster nodes.

def gateway_config(fake4, fake1, cluster=None):
    def provider(name, model, port):
        return {"name": name, "kind": "custom", "models": [model], "pool": "shared",
                "base_url": f"http://127.0.0.1:{port}/v1"}
    cfg = {
        "log": {"level": "warn"},
        "actor_threads": 1,
        "http": {"max_connections": 50000},
        "sessions": {"max_sessions": 50000, "resume_window_ms": 5000},
        "quota_pools": {"shared": {"max_concurrent": 10000}},
        "providers": [provider("up4", "m", fake4), provider("up1", "m1", fake1)],
    }
    if cluster:
        cfg["cluster"] = cluster
    return cfg


class Node:
    def __init__(self, name, http_port, admin_port, proc):
        self.name, self.http_port, self.admin_port, self.proc = name, http_port, admin_port, proc

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def metrics(self):
        return http_get(f"http://127.0.0.1:{self.admin_port}/metrics")


def start_everything(args, work):
    binary = os.path.join(args.build, "streamgate")
    fake = os.path.join(args.build, "tools/fake_upstream/fake-upstream")
    for b in (binary, fake, os.path.join(args.build, "tools/loadgen/loadgen")):
        if not os.access(b, os.X_OK):
            raise RuntimeError(f"missing {b} (run make build)")

    # Two fake upstreams: a few chunks for TTFT (model "m"), one chunk for lease rate ("m1").
    ups = {}
    for chunks in (args.ttft_chunks, 1):
        name = f"fake{chunks}"
        if name in ups:
            continue
        p = spawn(work, name, [fake, "--listen", "127.0.0.1:0", "--chunks", str(chunks)])
        port = int(wait_for_line(work, name, p, r"listening on (?:http://)?127\.0\.0\.1:(\d+)").group(1))
        ups[name] = (p, port)
    fake4 = ups[f"fake{args.ttft_chunks}"][1]
    fake1 = ups["fake1"][1]

    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(ROOT, "scripts/cluster-certs.sh"), certs] + NODES, check=True,
                   timeout=60)

    ports = free_ports(3 * len(NODES) + 2)
    http_p = dict(zip(NODES, ports[0::3]))
    admin_p = dict(zip(NODES, ports[1::3]))
    cluster_p = dict(zip(NODES, ports[2::3]))
    single_http, single_admin = ports[-2], ports[-1]

    nodes = {}
    for n in NODES:
        cluster = {
            "node_id": n,
            "listen": f"127.0.0.1:{cluster_p[n]}",
            "peers": [{"id": p, "address": f"127.0.0.1:{cluster_p[p]}"} for p in NODES if p != n],
            "tls": {"certificate": f"{certs}/{n}.pem", "key": f"{certs}/{n}.key", "ca": f"{certs}/ca.pem"},
            "owners": {"shared": "a"},
        }
        path = os.path.join(work, f"node-{n}.json")
        json.dump(gateway_config(fake4, fake1, cluster), open(path, "w"), indent=1)
        p = spawn(work, f"node-{n}", [binary, "--config", path, "--listen", f"127.0.0.1:{http_p[n]}",
                                      "--admin", "--admin-listen", f"127.0.0.1:{admin_p[n]}"])
        nodes[n] = Node(n, http_p[n], admin_p[n], p)
    path = os.path.join(work, "single.json")
    json.dump(gateway_config(fake4, fake1), open(path, "w"), indent=1)
    p = spawn(work, "single", [binary, "--config", path, "--listen", f"127.0.0.1:{single_http}",
                               "--admin", "--admin-listen", f"127.0.0.1:{single_admin}"])
    nodes["single"] = Node("single", single_http, single_admin, p)

    for name, node in nodes.items():
        wait_for_line(work, "single" if name == "single" else f"node-{name}", node.proc,
                      r"streamgate admin on http://")
    # Every node sees both peers, and b and c reach the owner (not degraded).
    deadline = time.time() + 20
    while True:
        state = {}
        for n in NODES:
            m = nodes[n].metrics()
            state[n] = (metric(m, 'streamgate_cluster_peers{state="connected"}'),
                        metric(m, 'streamgate_cluster_degraded{pool="shared"}'))
        if all(state[n][0] == len(NODES) - 1 for n in NODES) and \
                all(state[n][1] in (None, 0) for n in NODES):
            break
        if time.time() > deadline:
            raise RuntimeError(f"cluster did not form within 20 s: {state}")
        for n, node in nodes.items():
            if node.proc.poll() is not None:
                raise RuntimeError(f"node {n} exited")
        time.sleep(0.1)
    return nodes, {k: v[0] for k, v in ups.items()}


# ------------------------------------------------------------------------------------------
# Load

def loadgen(args, work, tag, node, model, concurrency, requests, max_s, background=False):
    out = os.path.join(work, f"lg-{tag}.json")
    if os.path.exists(out):
        os.remove(out)
    cmd = [os.path.join(args.build, "tools/loadgen/loadgen"), "--protocol", "sse", "--url", node.url,
           "--model", model, "--concurrency", str(concurrency), "--requests", str(requests),
           "--keep-alive", "--timeout-s", "30", "--max-duration-s", str(max_s), "--json", out]
    log = open(os.path.join(work, f"lg-{tag}.txt"), "w")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    children.append(p)
    if background:
        return p, out
    return finish_loadgen(p, out, max_s)


def finish_loadgen(p, out, max_s):
    p.wait(timeout=max_s + 40)
    if not os.path.exists(out) or os.path.getsize(out) == 0:
        raise RuntimeError(f"loadgen wrote no result ({out})")
    return json.load(open(out))


def self_cpu_s():
    t = os.times()
    return t.user + t.system


def cpu_snapshot(procs):
    return {k: cpu_s(p.pid) for k, p in procs.items()}


def round_order(names, i):
    """Round i runs the targets in order, round i+1 in reverse (ABC CBA ...): a slow stretch
    of the shared machine falls on every target alike."""
    return list(names) if i % 2 == 0 else list(reversed(names))


def ttft_phase(args, work, nodes, ups):
    # A warm-up on every node: the upstream connections and b's pool proxy are established.
    for n in ["single", "a", "b", "c"]:
        r = loadgen(args, work, f"warm-{n}", nodes[n], "m", args.ttft_concurrency, args.warmup, 30)
        if r["ok"] != args.warmup:
            raise RuntimeError(f"warm-up on {n}: {r['ok']}/{args.warmup} ok, errors {r['errors']}")
    owner = nodes["a"]
    procs = {n: nodes[n].proc for n in ["a", "b", "c", "single"]}
    procs["fake"] = ups[f"fake{args.ttft_chunks}"]
    per_round = max(1, args.ttft_streams // args.rounds)
    rounds = {t: [] for t in ["single", "a", "b"]}
    for i in range(args.rounds):
        for target in round_order(rounds, i):
            g0 = owner_granted(owner.admin_port)
            c0, m0, s0 = cpu_snapshot(procs), machine_busy_s(), self_cpu_s()
            r = loadgen(args, work, f"ttft-{target}-{i}", nodes[target], "m", args.ttft_concurrency,
                        per_round, 60)
            c1, m1, s1 = cpu_snapshot(procs), machine_busy_s(), self_cpu_s()
            ours = sum(c1[k] - c0[k] for k in procs) + r["cpu_s"] + (s1 - s0)
            r["foreign_cores_busy"] = max(0.0, (m1 - m0) - ours) / r["wall_s"]
            time.sleep(0.05)
            r["owner_granted"] = owner_granted(owner.admin_port) - g0
            rounds[target].append(r)
            print(f"  ttft {target} round {i + 1}: ok {r['ok']}/{per_round} p50 {r['ttft_ms']['p50']:.3f}"
                  f" p99 {r['ttft_ms']['p99']:.3f} ms (owner granted {r['owner_granted']},"
                  f" other CPU {r['foreign_cores_busy']:.2f} cores)", file=sys.stderr)
    # loadgen gives percentiles, not samples: a target's figure is the mean of its rounds'.
    results = {}
    for t, rs in rounds.items():
        wall = sum(r["wall_s"] for r in rs)
        results[t] = {
            "streams": per_round * len(rs), "ok": sum(r["ok"] for r in rs),
            "ttft_ms": {p: sum(r["ttft_ms"][p] for r in rs) / len(rs) for p in ["p50", "p90", "p99", "mean"]},
            "owner_granted": sum(r["owner_granted"] for r in rs),
            "foreign_cores_busy": sum(r["foreign_cores_busy"] * r["wall_s"] for r in rs) / wall,
            "rounds": rs,
        }
    return results


def rate_phase(args, work, nodes, ups):
    owner = nodes["a"]
    procs = {n: nodes[n].proc for n in ["a", "b", "c", "single"]}
    procs["fake1"] = ups["fake1"]
    # name -> nodes loaded together (the concurrency split evenly over them)
    plan = {"single": ["single"], "a": ["a"], "b": ["b"], "b+c": ["b", "c"]}
    window = args.rate_seconds / args.rounds
    rounds = {name: [] for name in plan}
    for i in range(args.rounds):
        for name in round_order(plan, i):
            targets = plan[name]
            conc = max(1, args.rate_concurrency // len(targets))
            g0 = owner_granted(owner.admin_port)
            c0 = cpu_snapshot(procs)
            m0, s0 = machine_busy_s(), self_cpu_s()
            started = [loadgen(args, work, f"rate-{name}-{t}-{i}", nodes[t], "m1", conc, 10 ** 7,
                               window, background=True) for t in targets]
            parts = [finish_loadgen(p, out, window) for p, out in started]
            c1 = cpu_snapshot(procs)
            m1, s1 = machine_busy_s(), self_cpu_s()
            # Streams cut at the window's end still give their leases back: let them.
            time.sleep(0.3)
            granted = owner_granted(owner.admin_port) - g0
            errors = {}
            for r in parts:
                for k, v in r["errors"].items():
                    errors[k] = errors.get(k, 0) + v
            cpu = {k: c1[k] - c0[k] for k in procs}
            cpu["loadgen"] = sum(r["cpu_s"] for r in parts)
            r = {"wall_s": max(r["wall_s"] for r in parts), "ok": sum(r["ok"] for r in parts),
                 "granted": granted, "errors": errors, "cpu_s": cpu,
                 "machine_busy_s": (m1 - m0) - (s1 - s0), "concurrency_per_node": conc,
                 "ttft_ms": [r["ttft_ms"] for r in parts]}
            rounds[name].append(r)
            print(f"  rate {name} round {i + 1}: {r['ok']} streams in {r['wall_s']:.2f} s ="
                  f" {r['ok'] / r['wall_s']:.0f}/s"
                  + (f", owner granted {granted / r['wall_s']:.0f}/s" if name != "single" else ""),
                  file=sys.stderr)
    runs = {}
    for name, rs in rounds.items():
        targets = plan[name]
        wall = sum(r["wall_s"] for r in rs)
        ok = sum(r["ok"] for r in rs)
        granted = sum(r["granted"] for r in rs)
        cpu = {k: sum(r["cpu_s"][k] for r in rs) for k in rs[0]["cpu_s"]}
        errors = {}
        for r in rs:
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        cut = errors.pop("abandoned at --max-duration-s", 0)
        gateways = sum(cpu[k] for k in ["a", "b", "c", "single"])
        counted = name != "single"  # the owner's granted_total counts this run's leases
        runs[name] = {
            "nodes": targets, "concurrency_per_node": rs[0]["concurrency_per_node"],
            "wall_s": wall, "ok": ok, "streams_per_s": ok / wall, "cut_at_end": cut, "errors": errors,
            "owner_granted": granted if counted else None,
            "owner_leases_per_s": granted / wall if counted else None,
            "owner_cpu_ms_per_lease": 1000 * cpu["a"] / max(1, granted) if counted else None,
            "owner_cores_busy": cpu["a"] / wall if counted else None,
            "gateways_cpu_ms_per_stream": 1000 * gateways / max(1, ok),
            "serving_cpu_ms_per_stream": 1000 * sum(cpu[t] for t in targets) / max(1, ok),
            "others_cpu_ms_per_stream": 1000 * (cpu["fake1"] + cpu["loadgen"]) / max(1, ok),
            # Busy cores of the machine not spent by this bench's processes (other jobs).
            "foreign_cores_busy": max(0.0, sum(r["machine_busy_s"] for r in rs) - sum(cpu.values())) / wall,
            "cpu_s": cpu,
            "rounds": rs,
        }
    return runs


# ------------------------------------------------------------------------------------------
# Report

def fmt(x, d=2):
    return "–" if x is None else f"{x:.{d}f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def report(args, ttft, rate, info):
    lines = ["## Cluster mode: TTFT with a remote quota pool", "",
             f"{ttft['a']['streams']} SSE streams per target in {args.rounds} interleaved rounds "
             f"(ABC, CBA, ...), {args.ttft_concurrency} in flight, keep-alive connections, fake "
             f"upstream {args.ttft_chunks} chunks without delay; each percentile is the mean of "
             "the rounds' (loadgen reports percentiles, not samples). "
             "*a* = the pool's owner (local lease), *b* = another node (lease from *a* over the "
             "cluster link), *single* = one node without cluster configuration. "
             "Ratios and added ms against *a* and *single* of the same run; *leases from a*: the "
             "owner's granted_total over the run (all of b's streams took theirs from a); *other "
             "CPU*: the machine's busy time not charged to this bench's processes, in cores.", "",
             "| target | ok | TTFT p50 ms | TTFT p99 ms | p50 − a | p99 − a | p50 / a | p99 / a "
             "| p50 / single | p99 / single | leases from a | other CPU, cores |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    a, s = ttft["a"]["ttft_ms"], ttft["single"]["ttft_ms"]
    for t in ["single", "a", "b"]:
        r = ttft[t]
        d = r["ttft_ms"]
        vs_a = t != "a"
        lines.append(
            f"| {t} | {r['ok']}/{r['streams']} | {fmt(d['p50'], 3)} | {fmt(d['p99'], 3)} | "
            f"{fmt(d['p50'] - a['p50'], 3) if vs_a else '–'} | "
            f"{fmt(d['p99'] - a['p99'], 3) if vs_a else '–'} | "
            f"{fmt(ratio(d['p50'], a['p50'])) + '×' if vs_a else '–'} | "
            f"{fmt(ratio(d['p99'], a['p99'])) + '×' if vs_a else '–'} | "
            f"{fmt(ratio(d['p50'], s['p50'])) + '×' if t != 'single' else '–'} | "
            f"{fmt(ratio(d['p99'], s['p99'])) + '×' if t != 'single' else '–'} | "
            f"{r['owner_granted']} | {fmt(r['foreign_cores_busy'])} |")
    lines += ["", "## Cluster mode: leases granted by one pool owner", "",
              f"Fake upstream 1 chunk without delay, {args.rate_concurrency} streams in flight in "
              f"all (split over the nodes loaded), keep-alive, {args.rate_seconds:g} s per target in "
              f"{args.rounds} interleaved rounds. "
              "*leases/s granted by a* is the owner's granted_total (/admin/providers) over the "
              "window; CPU (user + system, /proc/PID/stat) per completed stream of the nodes the "
              "load was sent to and of every streamgate process, and the owner's per lease it "
              "granted. *other CPU*: the machine's busy time not charged to this bench's processes "
              "(other jobs, kernel threads), in cores. Ratios against the same load on *a* (local "
              "pool) and on *single*.", "",
              "| load on | streams/s | / a | / single | leases/s granted by a | serving nodes' CPU ms/stream "
              "| all gateways' CPU ms/stream | a's CPU ms/lease | a's cores busy | other CPU, cores "
              "| cut at end | errors |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    ra, rs = rate["a"]["streams_per_s"], rate["single"]["streams_per_s"]
    for name in ["single", "a", "b", "b+c"]:
        r = rate[name]
        lines.append(
            f"| {name} | {r['streams_per_s']:.0f} | {fmt(ratio(r['streams_per_s'], ra))}× | "
            f"{fmt(ratio(r['streams_per_s'], rs))}× | {fmt(r['owner_leases_per_s'], 0)} | "
            f"{fmt(r['serving_cpu_ms_per_stream'], 3)} | {fmt(r['gateways_cpu_ms_per_stream'], 3)} | "
            f"{fmt(r['owner_cpu_ms_per_lease'], 3)} | {fmt(r['owner_cores_busy'])} | "
            f"{fmt(r['foreign_cores_busy'])} | {r['cut_at_end']} | {sum(r['errors'].values())} |")
    b = rate["b+c"]
    lines += ["", f"Loaded through b and c, the owner granted {b['owner_leases_per_s']:.0f} remote "
              f"leases/s ({fmt(ratio(b['streams_per_s'], ra))}× the streams/s of the same load on a "
              f"alone) with {fmt(b['owner_cores_busy'])} of a core busy: the load generator, the "
              "fake upstream and the serving nodes share the machine's cores, so this is what the "
              "load could ask for, not the owner's limit. At "
              f"{fmt(b['owner_cpu_ms_per_lease'], 3)} ms of CPU per remote lease, one core would "
              f"grant about {fmt(ratio(1000, b['owner_cpu_ms_per_lease']), 0)} a second "
              "(an extrapolation, not measured: it assumes the owner's middleman thread and pool "
              "actor scale to a whole core)."]
    if ttft["b"]["owner_granted"] < ttft["b"]["ok"]:
        lines += ["", f"**Warning:** only {ttft['b']['owner_granted']} of b's {ttft['b']['ok']} "
                  "TTFT streams took their lease from a (b served the rest from its degraded "
                  "share): the b row is not all remote leases."]
    busy = max([ttft[t]["foreign_cores_busy"] for t in ttft] +
               [rate[n]["foreign_cores_busy"] for n in rate])
    if busy > 0.2:
        lines += ["", f"**Note:** other jobs kept up to {busy:.2f} of the machine's "
                  f"{info['cpus']} cores busy during this run (*other CPU*): its figures carry that "
                  "noise, the interleaved rounds spread it over the targets."]
    lines += ["", f"{info['cpus']} CPUs, git {info['git']}, whole run {info['seconds']:.0f} s. "
              "Compare figures within one run; across runs, compare ratios."]
    return "\n".join(lines)


def main():
    args = parse_args()
    args.build = os.path.abspath(args.build)
    out = args.out or os.path.join(args.build, "bench", "cluster.json")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    t_start = time.time()
    work = tempfile.mkdtemp(prefix="sg-cluster-bench.")
    try:
        print(f"cluster bench: work dir {work}", file=sys.stderr)
        nodes, ups = start_everything(args, work)
        print("cluster bench: 3 nodes connected, single node up; TTFT", file=sys.stderr)
        ttft = ttft_phase(args, work, nodes, ups)
        print("cluster bench: lease rate", file=sys.stderr)
        rate = rate_phase(args, work, nodes, ups)
        for n, node in nodes.items():
            if node.proc.poll() is not None:
                raise RuntimeError(f"node {n} exited during the run (see {work})")
    except BaseException:
        args.keep_work = True
        raise
    finally:
        stop_all()
        if not args.keep_work:
            subprocess.run(["rm", "-rf", work])
        else:
            print(f"cluster bench: work dir kept: {work}", file=sys.stderr)

    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "git": git,
            "seconds": time.time() - t_start}
    a, b, s = (ttft[t]["ttft_ms"] for t in ["a", "b", "single"])
    summary = {
        "ttft_added_ms_b_minus_a": {"p50": b["p50"] - a["p50"], "p99": b["p99"] - a["p99"]},
        "ttft_ratio_b_over_a": {"p50": ratio(b["p50"], a["p50"]), "p99": ratio(b["p99"], a["p99"])},
        "ttft_ratio_a_over_single": {"p50": ratio(a["p50"], s["p50"]), "p99": ratio(a["p99"], s["p99"])},
        "ttft_ratio_b_over_single": {"p50": ratio(b["p50"], s["p50"]), "p99": ratio(b["p99"], s["p99"])},
        # Every stream sent to b took its lease from a (not from a degraded local share).
        "ttft_b_leases_from_owner": ttft["b"]["owner_granted"],
        "remote_leases_per_s_b_and_c": rate["b+c"]["owner_leases_per_s"],
        "owner_cpu_ms_per_remote_lease_b_and_c": rate["b+c"]["owner_cpu_ms_per_lease"],
        "owner_cpu_ms_per_local_lease_a": rate["a"]["owner_cpu_ms_per_lease"],
        "owner_cores_busy_b_and_c": rate["b+c"]["owner_cores_busy"],
        "streams_per_s": {k: v["streams_per_s"] for k, v in rate.items()},
        "streams_per_s_ratio_b_and_c_over_a": ratio(rate["b+c"]["streams_per_s"], rate["a"]["streams_per_s"]),
        "streams_per_s_ratio_b_and_c_over_single": ratio(rate["b+c"]["streams_per_s"],
                                                         rate["single"]["streams_per_s"]),
        "streams_per_s_ratio_b_over_a": ratio(rate["b"]["streams_per_s"], rate["a"]["streams_per_s"]),
    }
    result = {"info": info, "params": {k: v for k, v in vars(args).items() if k != "keep_work"},
              "summary": summary, "ttft": ttft, "rate": rate}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(report(args, ttft, rate, info))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
