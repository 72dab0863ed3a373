#!/usr/bin/env python3
"""Chaos runs against a real streamgate process (docs/chaos.md).

For each scenario: start three fake upstreams and a streamgate with a multi-provider
configuration in front of them, drive SSE, WebSocket and long-poll load with loadgen,
inject the scenario's faults on a seeded schedule, then check the invariants. Prints a table,
writes JSON with --json, exits 1 when an invariant broke (2 on a usage error).

    chaos.py --streamgate build/streamgate --fake-upstream build/tools/fake_upstream/fake-upstream \
             --loadgen build/tools/loadgen/loadgen [--scenario a,b] [--seed N] [--duration S]
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import invariants  # noqa: E402
import report  # noqa: E402
from harness import (ChaosError, FakeUpstream, Gateway, Lane, run_idle_flood,  # noqa: E402
                     wait_until, write_config)
from scenarios import REGISTRY, make_rng  # noqa: E402

DEFAULT_SEED = 20
SHORT_DURATION_S = 45  # all scenarios together: the short pass of `make test`
RESUME_WINDOW_MS = 1500
DRAIN_MS = 1500
MAX_CONNECTIONS = 64
# Per upstream: small enough that the load (about 15 streams at once) queues and fails over.
QUOTAS = [
    {"rpm": 90, "max_concurrent": 3, "queue_timeout_ms": 2000},
    {"rpm": 600, "max_concurrent": 2, "queue_timeout_ms": 2000},
    {"rpm": 600, "max_concurrent": 4, "queue_timeout_ms": 2000},
]


class FaultInjector:
    """Runs a scenario's faults at their times; each action records what happened."""

    def __init__(self, run):
        self.run = run

    def execute(self, faults, t0, stop):
        for f in faults:
            while not stop.is_set() and time.monotonic() < t0 + f.at_s:
                stop.wait(min(0.05, t0 + f.at_s - time.monotonic()))
            if stop.is_set():
                f.result = "not reached (load ended)"
                continue
            try:
                f.result = getattr(self, f.action)(*f.args)
            except ChaosError as e:
                f.result = f"FAILED: {e}"

    def _admin(self, path, what):
        status, body = self.run.gw.post(path)
        if status == 202:
            return "202"
        if status == 404 and "no such endpoint" in body:
            return f"MISSING: POST {path} answered 404 (this server has no {what} endpoint)"
        return f"{status} {body.strip()[:100]}"

    def crash_provider(self, name):
        return self._admin(f"/admin/providers/{name}/crash", "provider crash")

    def crash_router(self):
        return self._admin("/admin/router/crash", "router crash")

    def crash_pool(self, name):
        return self._admin(f"/admin/pools/{name}/crash", "pool crash")

    def drop_connections(self):
        status, body = self.run.gw.post("/admin/connections/drop")
        return f"{status} {body.strip()}"

    def behaviour(self, upstream, spec):
        upstream.set_behaviour(spec)
        return "ok"

    def stop_upstream(self, upstream):
        upstream.signal(signal.SIGSTOP)
        return "stopped"

    def continue_upstream(self, upstream):
        upstream.signal(signal.SIGCONT)
        return "continued"

    def kill_upstream(self, upstream):
        upstream.kill()
        return "killed"

    def restart_upstream(self, upstream):
        upstream.start(10 * self.run.bounds.time_scale)
        return f"restarted on port {upstream.port}"

    def flood(self, protocol, sockets, hold_s):
        # In a thread of its own: the schedule goes on while the sockets are held.
        out = os.path.join(self.run.workdir, f"flood-{time.monotonic_ns()}.json")

        def go():
            self.run.floods.append(run_idle_flood(self.run.args.loadgen, self.run.gw, protocol,
                                                  sockets, hold_s, out))

        t = threading.Thread(target=go)
        t.start()
        self.run.threads.append(t)
        return f"{sockets} idle {protocol} sockets for {hold_s} s"

    def sigterm(self):
        self.run.sigterm_at = time.monotonic()
        self.run.gw.proc.send_signal(signal.SIGTERM)
        return "sent"


class ScenarioRun:
    """One scenario from start to report."""

    def __init__(self, scenario, args, seed, duration_s, bounds, documented):
        self.sc, self.args, self.seed, self.duration_s = scenario, args, seed, duration_s
        self.bounds, self.documented = bounds, documented
        self.workdir = tempfile.mkdtemp(prefix=f"chaos-{scenario.name}-")
        self.upstreams = [FakeUpstream(args.fake_upstream, f"u{i + 1}", self.workdir)
                          for i in range(len(QUOTAS))]
        self.gw = None
        self.threads, self.floods = [], []
        self.sigterm_at = None
        self.timings = {}

    def run(self):
        t_start = time.monotonic()
        result = {"scenario": self.sc.name, "seed": self.seed, "duration_s": self.duration_s,
                  "doc": self.sc.doc}
        faults = []
        try:
            faults = self.sc.plan(make_rng(self.seed, self.sc.name), self.duration_s,
                                  self.upstreams)
            checks, lanes = self._run(faults)
        except ChaosError as e:
            checks, lanes = [invariants.Check("scenario_ran", False, str(e))], {}
        except Exception:  # noqa: BLE001 - a bug of the script: report it, run the others
            checks = [invariants.Check("scenario_ran", False, traceback.format_exc())]
            lanes = {}
        finally:
            self._teardown()
        self.timings["total_s"] = time.monotonic() - t_start
        result.update({
            "requests": sum(m["streams"] for m in lanes.values()),
            "lanes": lanes,
            "outcomes": report.sum_outcomes(lanes),
            "checks": [c.to_json() for c in checks],
            "held": all(c.held for c in checks),
            "faults": [f.to_json() for f in faults],
            "floods": self.floods,
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "workdir": self.workdir,
        })
        if not result["held"] and self.gw:
            result["streamgate_stderr_tail"] = self.gw.stderr_tail()
        return result

    def _start(self):
        t = time.monotonic()
        scale = self.bounds.time_scale
        for u in self.upstreams:
            u.start(10 * scale)
        config = os.path.join(self.workdir, "streamgate.json")
        write_config(config, self.upstreams, QUOTAS, RESUME_WINDOW_MS, MAX_CONNECTIONS, DRAIN_MS)
        self.gw = Gateway(self.args.streamgate, config, self.workdir)
        self.gw.start(20 * scale)
        wait_until("GET /healthz 200", lambda: self.gw.get("/healthz")[0] == 200, 10 * scale)
        # Warm-up: a few streams of every transport, so what is allocated once (threads,
        # pools, curl connections) is in the baseline.
        warmups = [threading.Thread(target=Lane(f"warmup-{p}", p, concurrency=3, batch=3).run,
                                    args=(self.args.loadgen, self.gw, 0, self.workdir,
                                          lambda: False))
                   for p in ("sse", "ws", "poll")]
        for w in warmups:
            w.start()
        for w in warmups:
            w.join()
        invariants.wait_idle(self.gw, 20 * scale)
        for u in self.upstreams:
            u.reset_stats()
        self.timings["start_s"] = time.monotonic() - t
        return {"fds": self.gw.fds(), "rss_kib": self.gw.rss_kib()}

    def _run(self, faults):
        baseline = self._start()
        lanes = self.sc.lanes()
        stop = threading.Event()
        t0 = time.monotonic()
        end = t0 + self.duration_s

        def keep_going():
            return time.monotonic() < end and self.gw.alive() and self.sigterm_at is None

        workers = [threading.Thread(target=lane.run, args=(self.args.loadgen, self.gw,
                                                             self.seed + i, self.workdir,
                                                             keep_going))
                   for i, lane in enumerate(lanes)]
        for w in workers:
            w.start()
        injector = threading.Thread(target=FaultInjector(self).execute, args=(faults, t0, stop))
        injector.start()
        exited_within = None
        if self.sc.ends_process:
            injector.join()
            if self.sigterm_at is not None:
                bound = (DRAIN_MS / 1000 + 5) * self.bounds.time_scale
                try:
                    self.gw.proc.wait(timeout=bound + 10)
                    exited_within = time.monotonic() - self.sigterm_at
                except Exception:  # noqa: BLE001 - still running: the check says so
                    exited_within = None
        for w in workers:
            w.join(timeout=self.duration_s + 200)
        stop.set()
        injector.join()
        for t in self.threads:
            t.join(timeout=120)
        self.timings["load_s"] = time.monotonic() - t0
        self._restore()

        t = time.monotonic()
        merged = {lane.name: lane.merged() for lane in lanes}
        min_streams = sum(lane.concurrency for lane in lanes)
        checks = [invariants.check_faults(faults),
                  invariants.check_outcomes(merged, min_streams, self.sc, self.documented),
                  invariants.check_text(merged),
                  invariants.check_upstream_quota(self.upstreams, QUOTAS)]
        scale = self.bounds.time_scale
        if self.sc.ends_process:
            bound = (DRAIN_MS / 1000 + 5) * scale
            checks.append(invariants.check_exit(self.gw, 0, exited_within, bound))
        else:
            try:
                invariants.wait_idle(self.gw, 30 * scale)
                checks.append(invariants.check_leases(self.gw, 5 * scale))
                checks.append(invariants.check_sessions(self.gw, RESUME_WINDOW_MS / 1000,
                                                        5 * scale))
                checks.append(invariants.check_resources(
                    self.gw, baseline, self.bounds, sum(q["max_concurrent"] for q in QUOTAS),
                    5 * scale))
            except ChaosError as e:
                checks.append(invariants.Check("idle_after_load", False, str(e)))
            checks.append(invariants.check_alive(self.gw, self.args.loadgen, 10 * scale))
        self.timings["checks_s"] = time.monotonic() - t
        return checks, merged

    def _restore(self):
        """Every upstream back to normal: continued, restarted, default behaviour."""
        for u in self.upstreams:
            if u.proc and u.proc.poll() is not None:
                u.start(10 * self.bounds.time_scale)
            u.signal(signal.SIGCONT)
            try:
                u.set_behaviour("")
            except ChaosError:
                pass

    def _teardown(self):
        if self.gw and self.gw.proc:
            code = self.gw.stop()
            self.timings["exit_code"] = code
        for u in self.upstreams:
            u.stop()
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="chaos scenarios against a real streamgate")
    p.add_argument("--streamgate", required=True)
    p.add_argument("--fake-upstream", required=True)
    p.add_argument("--loadgen", required=True)
    p.add_argument("--scenario", default="", help="comma-separated names (default: all)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--duration", type=float, default=SHORT_DURATION_S,
                   help="seconds of load for all scenarios together (at least 5 each)")
    p.add_argument("--sanitize", default="", help="the build's SG_SANITIZE, widens bounds")
    p.add_argument("--json", default="", help="write the report as JSON here")
    p.add_argument("--keep", action="store_true", help="keep each scenario's temp dir")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--protocol-md", default=os.path.join(here, "..", "..", "docs",
                                                         "protocol.md"))
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    if args.list:
        for name, cls in REGISTRY.items():
            print(f"{name:20} {cls.doc}")
        return 0
    names = [n for n in args.scenario.split(",") if n] or list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        print(f"chaos: unknown scenario(s) {unknown}; known: {list(REGISTRY)}", file=sys.stderr)
        return 2
    for b in (args.streamgate, args.fake_upstream, args.loadgen):
        if not os.access(b, os.X_OK):
            print(f"chaos: {b} is not an executable (build first)", file=sys.stderr)
            return 2
    bounds = invariants.Bounds(args.sanitize)
    documented = invariants.documented_codes(args.protocol_md)
    per_scenario = max(5.0, args.duration / len(names))
    t0 = time.monotonic()
    results = []
    for name in names:
        print(f"chaos: {name} (seed {args.seed}, {per_scenario:.0f} s of load) ...", flush=True)
        results.append(ScenarioRun(REGISTRY[name](), args, args.seed, per_scenario, bounds,
                                   documented).run())
        print(report.scenario_table(results[-1]), flush=True)
    run = {"seed": args.seed, "duration_s": args.duration, "bounds": bounds.to_json(),
           "scenarios": results, "held": all(r["held"] for r in results),
           "wall_s": round(time.monotonic() - t0, 1)}
    print(report.summary_table(run))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(run, f, indent=1)
    return 0 if run["held"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
