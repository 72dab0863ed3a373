"""The chaos scenarios: one class each, registered by name (docs/chaos.md says how to add one).

A scenario says which client lanes load the gateway and, from a seeded RNG, when which
faults happen. The same seed gives the same schedule; the orchestrator (chaos.py) runs it,
then checks the invariants (invariants.py).
"""

import random

from harness import Lane

REGISTRY = {}

# Documented codes that these clients must never meet: they send well-formed requests for
# served models and resume only after events they saw, so one of these is a server fault.
NEVER = ("internal_error", "invalid_json", "invalid_request", "not_found", "method_not_allowed",
         "model_not_found", "body_too_large", "duplicate_stream", "stream_not_found",
         "session_ended")
# ... and a resume within the resume window must find its session.
RESUMES_FIND_SESSIONS = NEVER + ("session_not_found",)


def scenario(cls):
    REGISTRY[cls.name] = cls
    return cls


class Fault:
    """One scheduled fault: at `at_s` seconds into the load, `action` with `args`
    (actions are the methods of chaos.FaultInjector)."""

    def __init__(self, at_s, action, *args):
        self.at_s, self.action, self.args = round(at_s, 2), action, args
        self.result = None

    def describe(self):
        args = ", ".join(str(a) for a in self.args)
        return f"{self.at_s:7.2f} s  {self.action}({args})"

    def to_json(self):
        args = [a if isinstance(a, (int, float)) else str(a) for a in self.args]
        return {"at_s": self.at_s, "action": self.action, "args": args, "result": self.result}


def behaviour_window(at_s, length_s, upstream, spec):
    """An upstream behaves as `spec` from at_s for length_s, then as by default again."""
    return [Fault(at_s, "behaviour", upstream, spec),
            Fault(at_s + length_s, "behaviour", upstream, "")]


def by_time(faults):
    return sorted(faults, key=lambda f: f.at_s)


def resumable_lanes(concurrency=3, disconnect=None, delay_ms=200):
    """A lane per transport of clients that resume after a lost connection."""
    flags = ["--resume", "--resume-delay-ms", str(delay_ms)]
    if disconnect:
        flags += ["--disconnect-after", disconnect]
    return [Lane(f"{p}-resume", p, concurrency=concurrency, batch=concurrency * 2, flags=flags)
            for p in ("sse", "ws", "poll")]


def plain_lanes(concurrency=3, model="chaos"):
    """Clients that do not resume: /v1/chat/completions SSE and a WebSocket; long-poll clients
    poll again after a broken connection, as the protocol tells them to."""
    suffix = "" if model == "chaos" else "-" + model.split("-", 1)[1]
    return [Lane(f"{p}{suffix}", p, model=model, concurrency=concurrency, batch=concurrency * 2,
                 flags=["--resume"] if p == "poll" else [])
            for p in ("sse", "ws", "poll")]


class Scenario:
    name = ""
    doc = ""
    # Outcomes allowed beyond done, cancelled and the documented error codes.
    extra_outcomes = ()
    # Documented codes that must still not happen here.
    forbidden_outcomes = NEVER
    ends_process = False  # SIGTERM: the process exit is checked instead of its health

    def lanes(self):
        return resumable_lanes() + plain_lanes(concurrency=2)

    def plan(self, rng, duration_s, upstreams):
        return []

    @staticmethod
    def times(rng, duration_s, n, start=0.1, end=0.8):
        """n sorted fault times spread over [start, end] of the load."""
        return sorted(rng.uniform(start * duration_s, end * duration_s) for _ in range(n))

    @classmethod
    def behaviour_windows(cls, rng, duration_s, upstreams, n, end, length, spec):
        """n windows, each on a random upstream, starting by `end` of the load and lasting a
        share of it drawn from `length`, in which the upstream behaves as spec() draws."""
        faults = []
        for t in cls.times(rng, duration_s, n, end=end):
            u, what = rng.choice(upstreams), spec()
            faults += behaviour_window(t, rng.uniform(*length) * duration_s, u, what)
        return by_time(faults)


@scenario
class ProviderCrash(Scenario):
    name = "provider_crash"
    doc = ("provider actors crash (POST /admin/providers/{name}/crash) while SSE, WebSocket "
           "and long-poll streams run; sessions fail over or end with upstream_interrupted")
    forbidden_outcomes = RESUMES_FIND_SESSIONS

    def plan(self, rng, duration_s, upstreams):
        n = max(3, int(duration_s / 2))
        return [Fault(t, "crash_provider", rng.choice(["p1", "p2", "p3"]))
                for t in self.times(rng, duration_s, n)]


@scenario
class RouterPoolCrash(Scenario):
    name = "router_pool_crash"
    doc = ("the router actor and quota-pool actors crash (POST /admin/router/crash, "
           "POST /admin/pools/{name}/crash); a restarted pool must never grant past its limit. "
           "Fails, saying so, against a server without these endpoints (404)")
    forbidden_outcomes = RESUMES_FIND_SESSIONS

    def plan(self, rng, duration_s, upstreams):
        n = max(4, int(duration_s / 2))
        faults = []
        for t in self.times(rng, duration_s, n):
            if rng.random() < 0.4:
                faults.append(Fault(t, "crash_router"))
            else:
                faults.append(Fault(t, "crash_pool", rng.choice(["p1", "p2", "p3"])))
        return faults


@scenario
class UpstreamStorms(Scenario):
    name = "upstream_storms"
    doc = ("429 and 500 storms: an upstream answers every request with 429 (Retry-After 1) or "
           "500 for a while, then recovers; requests fail over to the others")

    def plan(self, rng, duration_s, upstreams):
        return self.behaviour_windows(rng, duration_s, upstreams, max(2, int(duration_s / 4)),
                                      0.6, (0.15, 0.3),
                                      lambda: f"status={rng.choice([429, 500])}")


@scenario
class MidStreamFaults(Scenario):
    name = "mid_stream_faults"
    doc = ("upstreams drop connections at random points mid-stream, stall (idle timeout), "
           "and answer slowly (first byte within and past the first-byte timeout)")

    def plan(self, rng, duration_s, upstreams):
        kinds = [lambda: f"drop_after={rng.randint(0, 30)}",
                 lambda: f"stall_after={rng.randint(0, 30)}",
                 lambda: f"first_byte_ms={rng.choice([400, 1500, 3500])}",
                 lambda: f"error_after={rng.randint(1, 30)}"]
        return self.behaviour_windows(rng, duration_s, upstreams, max(3, int(duration_s / 2)),
                                      0.7, (0.1, 0.25), lambda: rng.choice(kinds)())


@scenario
class UpstreamStopKill(Scenario):
    name = "upstream_stop_kill"
    doc = ("an upstream process is stopped (SIGSTOP) and continued (SIGCONT), another killed "
           "(SIGKILL) and restarted on its port")

    def plan(self, rng, duration_s, upstreams):
        stopped, killed = rng.sample(upstreams, 2)
        t1, t2 = self.times(rng, duration_s, 2, end=0.5)
        return by_time([
            Fault(t1, "stop_upstream", stopped),
            Fault(t1 + rng.uniform(0.15, 0.3) * duration_s, "continue_upstream", stopped),
            Fault(t2, "kill_upstream", killed),
            Fault(t2 + rng.uniform(0.1, 0.25) * duration_s, "restart_upstream", killed),
        ])


@scenario
class ClientChaos(Scenario):
    name = "client_chaos"
    doc = ("clients vanish after a random number of deltas and resume after a random delay "
           "(SSE Last-Event-ID, WebSocket resume, long-poll after=); every client connection is "
           "cut at random times (POST /admin/connections/drop); slow readers of a long answer "
           "are dropped as slow consumers and resume")
    forbidden_outcomes = RESUMES_FIND_SESSIONS

    def lanes(self):
        slow = [Lane(f"{p}-slow", p, model="chaos-long", concurrency=2, batch=2,
                     flags=["--resume", "--read-delay-ms", "4", "--resume-delay-ms", "100",
                            "--max-resumes", "40"])
                for p in ("sse", "ws")]
        return resumable_lanes(concurrency=3, disconnect="1:35", delay_ms=400) + slow

    def plan(self, rng, duration_s, upstreams):
        return [Fault(t, "drop_connections")
                for t in self.times(rng, duration_s, max(2, int(duration_s / 3)))]


@scenario
class ConnectionFlood(Scenario):
    name = "connection_flood"
    doc = ("idle connections beyond http.max_connections (plain TCP and WebSocket) while "
           "streams run: over the limit, requests get 503 too_many_connections (WebSocket: "
           "close 1013); once the flood ends everything works")

    def plan(self, rng, duration_s, upstreams):
        faults = []
        for t in self.times(rng, duration_s, 2, end=0.5):
            faults.append(Fault(t, "flood", rng.choice(["sse", "ws"]), 96,
                                round(rng.uniform(0.15, 0.3) * duration_s, 1)))
        return faults


@scenario
class Sigterm(Scenario):
    name = "sigterm"
    doc = ("SIGTERM under load: running streams finish within shutdown.drain_ms or end with "
           "server_shutting_down, new ones are refused, and the process exits 0")
    ends_process = True
    # Clients that connect after the listener closed never reach the server.
    extra_outcomes = ("connect_failed",)

    def lanes(self):
        return plain_lanes(concurrency=3) + plain_lanes(concurrency=2, model="chaos-slow")

    def plan(self, rng, duration_s, upstreams):
        return [Fault(rng.uniform(0.4, 0.7) * duration_s, "sigterm")]


@scenario
class Mixed(Scenario):
    name = "mixed"
    doc = ("a bit of everything above (provider crashes, storms, drops mid-stream, stopped "
           "upstreams, connection drops, clients vanishing), drawn at random over the whole "
           "run, against resuming clients: the soak scenario")
    def lanes(self):
        # Only clients that resume: a connection drop leaves a client of
        # /v1/chat/completions (which cannot resume) with no terminal event by design.
        return resumable_lanes(concurrency=3, disconnect="1:40", delay_ms=300)

    def plan(self, rng, duration_s, upstreams):
        faults = []
        for t in self.times(rng, duration_s, max(4, int(duration_s / 1.5)), end=0.85):
            kind = rng.choice(["crash", "storm", "drop", "stop", "mid"])
            u = rng.choice(upstreams)
            length = rng.uniform(0.5, 2.0)
            if kind == "crash":
                faults.append(Fault(t, "crash_provider", rng.choice(["p1", "p2", "p3"])))
            elif kind == "storm":
                faults += behaviour_window(t, length, u, f"status={rng.choice([429, 500, 503])}")
            elif kind == "drop":
                faults.append(Fault(t, "drop_connections"))
            elif kind == "stop":
                faults.append(Fault(t, "stop_upstream", u))
                faults.append(Fault(t + length, "continue_upstream", u))
            else:
                faults += behaviour_window(t, length, u, f"drop_after={rng.randint(0, 30)}")
        # Overlapping windows on one upstream: the last restore wins, and the run ends with
        # every upstream restored (chaos.py restores them all before the checks anyway).
        return by_time(faults)


def make_rng(seed, name):
    """Each scenario's schedule depends only on the seed and its name."""
    return random.Random(f"{seed}/{name}")
