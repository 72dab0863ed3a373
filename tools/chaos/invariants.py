"""What must hold after every scenario (docs/chaos.md, "Invariants"). Each check returns a
Check: its name, whether it held, and the numbers it saw."""

import json
import os
import re
import subprocess
import time

from harness import MODELS, ChaosError, poll, wait_until


class Check:
    def __init__(self, name, held, detail, **numbers):
        self.name, self.held, self.detail, self.numbers = name, held, detail, numbers

    def to_json(self):
        return {"name": self.name, "held": self.held, "detail": self.detail,
                "numbers": self.numbers}


def documented_codes(protocol_md):
    """Every error code docs/protocol.md lists: the first column of its "Error codes" and
    "Refusals" tables."""
    codes, in_table = set(), False
    with open(protocol_md) as f:
        for line in f:
            if line.startswith("#"):
                in_table = "Error codes" in line or "Refusals" in line
            elif in_table and line.startswith("| `"):
                codes.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    codes.discard("code")  # the refusal table's header
    return codes


class Bounds:
    """How far the process may be from its start once idle, and how long waits may take.
    Sanitizers make everything slower and ASan keeps freed memory in quarantine (256 MiB by
    default), so the bounds widen with the build kind."""

    def __init__(self, sanitize):
        self.sanitize = sanitize or ""
        if "address" in self.sanitize:
            self.time_scale, self.rss_kib = 4, 384 * 1024
        elif "thread" in self.sanitize:
            self.time_scale, self.rss_kib = 4, 256 * 1024
        else:
            self.time_scale, self.rss_kib = 1, 48 * 1024
        # Upstream connections libcurl keeps alive for reuse (at most the pools' concurrency,
        # per driver) plus a few for the listener's spare and the admin checks.
        self.fd_slack = 8

    def to_json(self):
        return {"sanitize": self.sanitize, "time_scale": self.time_scale,
                "rss_kib": self.rss_kib, "fd_slack": self.fd_slack}


def check_outcomes(merged, total_expected_min, scenario, documented):
    """Every request got exactly one terminal outcome: done, cancelled or a documented code."""
    outcomes, streams, multiple = {}, 0, 0
    for m in merged.values():
        streams += m["streams"]
        multiple += m["multiple_terminals"]
        for code, n in m["outcomes"].items():
            outcomes[code] = outcomes.get(code, 0) + n
    allowed = documented | {"done", "cancelled"} | set(scenario.extra_outcomes)
    allowed -= set(scenario.forbidden_outcomes)
    bad = {c: n for c, n in outcomes.items() if c not in allowed}
    errors = [e for m in merged.values() for e in m["errors"]]
    held = not bad and multiple == 0 and streams >= total_expected_min and not errors
    detail = f"{streams} streams, {multiple} with more than one terminal event"
    if bad:
        detail += ", not allowed here: " + ", ".join(f"{c} x{n}" for c, n in sorted(bad.items()))
    if streams < total_expected_min:
        detail += f", fewer streams than the {total_expected_min} expected"
    if errors:
        detail += f", loadgen errors: {errors[:3]}"
    return Check("one_terminal_outcome", held, detail, streams=streams,
                 multiple_terminals=multiple, not_allowed=bad)


def check_text(merged):
    """Every stream's text (across its resumes) is the fake upstream's answer, whole when it
    ended done, a prefix of it otherwise; no event seen twice."""
    checked = sum(m["text_checked"] for m in merged.values())
    mismatches = sum(m["text_mismatches"] for m in merged.values())
    seq_errors = sum(m["seq_errors"] for m in merged.values())
    resumed = sum(m["resumed_streams"] for m in merged.values())
    problems = [p for m in merged.values() for p in m["text_problems"]][:5]
    held = mismatches == 0 and seq_errors == 0 and checked > 0
    detail = (f"{checked} texts checked ({resumed} resumed streams), {mismatches} differ, "
              f"{seq_errors} events out of order or repeated")
    if problems:
        detail += "; " + "; ".join(problems)
    return Check("texts_identical", held, detail, checked=checked, resumed_streams=resumed,
                 mismatches=mismatches, seq_errors=seq_errors)


def wait_idle(gw, timeout_s):
    """Waits until no session's stream and no upstream request runs; returns seconds taken."""
    t0 = time.monotonic()

    def idle():
        status, body = gw.get("/healthz")
        if status != 200:
            return False
        h = json.loads(body)
        return h.get("active_sessions") == 0 and h.get("active_upstreams") == 0

    wait_until("no active session or upstream (GET /healthz)", idle, timeout_s)
    return time.monotonic() - t0


def check_leases(gw, timeout_s):
    """No lease outlives its stream: every pool's leases-in-use gauge back to 0 once idle."""
    def leases():
        return {k: v for k, v in gw.metrics().items()
                if k.startswith("streamgate_quota_leases_in_use")}

    held, last = poll(leases, lambda l: l and all(v == 0 for v in l.values()), timeout_s, 0.1)
    if held:
        return Check("no_leaked_leases", True, "every pool at 0 leases in use", leases=last)
    return Check("no_leaked_leases", False, f"leases still held after {timeout_s:.0f} s idle: "
                 f"{ {k: v for k, v in last.items() if v} }", leases=last)


def check_sessions(gw, window_s, timeout_s):
    """Active and live sessions back to 0 once the resume window has passed."""
    def counts():
        m = gw.metrics()
        return {"active": m.get("streamgate_session_active", -1),
                "live": m.get("streamgate_session_live", -1)}

    t0 = time.monotonic()
    held, last = poll(counts, lambda c: c["active"] == 0 and c["live"] == 0,
                      window_s + timeout_s, 0.1)
    if held:
        return Check("sessions_back_to_zero", True,
                     f"0 active, 0 live after {time.monotonic() - t0:.1f} s "
                     f"(resume window {window_s:.1f} s)", **last)
    return Check("sessions_back_to_zero", False,
                 f"{last} after {time.monotonic() - t0:.1f} s (resume window {window_s:.1f} s)",
                 **last)


def check_resources(gw, baseline, bounds, fd_extra, timeout_s):
    """Descriptors and RSS back within the bound of where they started (polled: libcurl and
    the memory trimmer release on their own timers)."""
    fd_bound = baseline["fds"] + fd_extra + bounds.fd_slack
    rss_bound = baseline["rss_kib"] + bounds.rss_kib
    held, (fds, rss) = poll(lambda: (gw.fds(), gw.rss_kib()),
                            lambda s: 0 <= s[0] <= fd_bound and 0 <= s[1] <= rss_bound,
                            timeout_s, 0.2)
    detail = (f"fds {baseline['fds']} -> {fds} (bound {fd_bound}), "
              f"RSS {baseline['rss_kib'] // 1024} -> {rss // 1024} MiB "
              f"(bound {rss_bound // 1024} MiB)")
    return Check("fds_and_rss_bounded", held, detail, fds_start=baseline["fds"], fds_end=fds,
                 fd_bound=fd_bound, rss_kib_start=baseline["rss_kib"], rss_kib_end=rss,
                 rss_kib_bound=rss_bound)


def check_upstream_quota(upstreams, quotas):
    """Each upstream's own peak of requests in flight never passed its pool's max_concurrent."""
    peaks, over = {}, {}
    for u, q in zip(upstreams, quotas):
        peak = u.peak_open_requests()
        peaks[u.name] = {"peak": peak, "max_concurrent": q["max_concurrent"]}
        if peak > q["max_concurrent"]:
            over[u.name] = peak
    detail = ", ".join(f"{n} peak {p['peak']}/{p['max_concurrent']}" for n, p in peaks.items())
    return Check("upstream_quota_respected", not over, detail, upstreams=peaks)


def check_alive(gw, loadgen, timeout_s):
    """The process runs, /healthz answers, a new stream is served whole (retried while
    breakers cool down, within timeout_s), and /readyz says ready."""
    if not gw.alive():
        return Check("alive_and_serving", False, f"the process exited ({gw.proc.poll()})")
    status, _ = gw.get("/healthz")
    if status != 200:
        return Check("alive_and_serving", False, f"/healthz answered {status}")
    chunks, size, _ = MODELS["chaos"]
    deadline = time.monotonic() + timeout_s
    tries, outcome = 0, None
    while time.monotonic() < deadline:
        tries += 1
        out = os.path.join(os.path.dirname(gw.config_path), f"alive-{tries}.json")
        try:
            subprocess.run([loadgen, "--url", gw.url(), "--model", "chaos", "--expect-text",
                            f"{chunks}:{size}", "--timeout-s", "10", "--json", out],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            with open(out) as f:
                s = json.load(f)
            outcome = s["outcomes"]
            if s["outcomes"].get("done") == 1 and s["text_mismatches"] == 0:
                break
        except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
            outcome = None
        time.sleep(0.5)
    ready, _ = gw.get("/readyz")
    ready_text = {200: "ready", 503: "NOT ready"}.get(ready, str(ready))
    held = outcome is not None and outcome.get("done") == 1 and ready == 200
    return Check("alive_and_serving", held,
                 f"/healthz 200, new stream {outcome} after {tries} tries, /readyz {ready_text}",
                 tries=tries, readyz=ready)


def check_exit(gw, expected_code, exited_within_s, bound_s):
    code = gw.proc.poll()
    held = code == expected_code and exited_within_s is not None and exited_within_s <= bound_s
    within = "never" if exited_within_s is None else f"{exited_within_s:.2f} s"
    return Check("clean_exit", held,
                 f"exit code {code} (expected {expected_code}) {within} after SIGTERM "
                 f"(bound {bound_s:.1f} s)", exit_code=code, exit_s=exited_within_s)


def check_faults(faults):
    """Every scheduled fault was injected; an endpoint the server lacks is a failure, named."""
    missing = [f for f in faults if f.result and f.result.startswith("MISSING")]
    failed = [f for f in faults if f.result and f.result.startswith("FAILED")]
    held = not missing and not failed
    detail = f"{len(faults)} faults injected"
    if missing:
        detail = (f"{len(missing)} of {len(faults)} faults could not be injected: "
                  f"{missing[0].result}")
    elif failed:
        detail = f"{len(failed)} faults failed: {failed[0].result}"
    return Check("faults_injected", held, detail, missing=len(missing), failed=len(failed))


__all__ = ["Check", "Bounds", "ChaosError", "documented_codes"]
