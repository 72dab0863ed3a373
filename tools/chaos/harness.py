"""The processes of one chaos scenario: fake upstreams, the streamgate server, loadgen lanes.

Everything listens on 127.0.0.1 with ephemeral ports, every wait has a deadline, and every
process started here is stopped by the pid it was started with.
"""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

# The fake upstream's answer: CHUNKS chunks of CHUNK_SIZE bytes (full_text in
# tools/fake_upstream/behaviour.hpp), so every client can check its text.
CHUNKS = 40
CHUNK_SIZE = 12
INTERVAL_MS = 15
# Models of the chaos configuration: each is renamed to the fake's model with a suffix that
# shapes the answer (the fake reads `model@key=value,...`).
MODELS = {
    "chaos": (CHUNKS, CHUNK_SIZE, ""),
    # A long, fast answer: slow readers fall behind it and are dropped as slow consumers.
    "chaos-long": (600, CHUNK_SIZE, "chunks=600,interval_ms=0"),
    # A slow answer: still running when SIGTERM's drain ends.
    "chaos-slow": (40, CHUNK_SIZE, "interval_ms=100"),
}


class ChaosError(Exception):
    """A scenario could not be run (a process did not start, a deadline passed)."""


def poll(sample, done, timeout_s, interval_s=0.05):
    """Samples until done(sample) holds or timeout_s passes: (held, the last sample)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = sample()
        if done(value):
            return True, value
        if time.monotonic() >= deadline:
            return False, value
        time.sleep(interval_s)


def wait_until(what, predicate, timeout_s, interval_s=0.05):
    """Polls `predicate` until it returns a true value; raises ChaosError after timeout_s."""
    held, value = poll(predicate, bool, timeout_s, interval_s)
    if not held:
        raise ChaosError(f"timed out after {timeout_s:.1f} s waiting for {what}")
    return value


def http(method, url, body=None, timeout_s=5.0):
    """(status, body text); status 0 when the connection failed."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def parse_metrics(text):
    """Prometheus text -> {'name{labels}': value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def read_ports(proc, what, timeout_s, marks=("listening on",)):
    """Reads the '<mark> ...:PORT' lines a server prints on stdout, one port per mark."""
    result = {}

    def reader():
        for line in proc.stdout:
            for mark in marks:
                if mark in line and mark not in result:
                    result[mark] = int(line.strip().rsplit(":", 1)[1])
            if len(result) == len(marks):
                break

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout_s)
    if len(result) != len(marks):
        proc.kill()
        raise ChaosError(f"{what} printed no {', '.join(marks)} line within {timeout_s} s")
    # Keep draining stdout so the process never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return [result[m] for m in marks]


def read_port(proc, what, timeout_s):
    return read_ports(proc, what, timeout_s)[0]


class FakeUpstream:
    """One fake-upstream process; can be stopped, continued, killed and restarted on its port."""

    def __init__(self, binary, name, workdir):
        self.binary, self.name, self.workdir = binary, name, workdir
        self.proc, self.port = None, 0
        # The peak of open requests over every incarnation (a kill loses the process's count).
        self.peak_before = 0

    def __str__(self):
        return self.name

    def start(self, timeout_s):
        listen = f"127.0.0.1:{self.port}"
        err = open(os.path.join(self.workdir, f"{self.name}.stderr"), "a")
        self.proc = subprocess.Popen(
            [self.binary, "--listen", listen, "--chunks", str(CHUNKS), "--chunk-size",
             str(CHUNK_SIZE), "--interval-ms", str(INTERVAL_MS)],
            stdout=subprocess.PIPE, stderr=err, text=True)
        self.port = read_port(self.proc, f"fake upstream {self.name}", timeout_s)

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def set_behaviour(self, spec):
        status, body = http("POST", self.url("/behaviour"), spec)
        if status != 200:
            raise ChaosError(f"{self.name}: POST /behaviour {spec!r}: {status} {body}")

    def stats(self):
        status, body = http("GET", self.url("/stats"))
        return json.loads(body) if status == 200 else None

    def reset_stats(self):
        http("POST", self.url("/stats/reset"))
        self.peak_before = 0

    def peak_open_requests(self):
        s = self.stats()
        return max(self.peak_before, s["peak_open_requests"] if s else 0)

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self):
        s = self.stats()
        if s:
            self.peak_before = max(self.peak_before, s["peak_open_requests"])
        self.signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(timeout=10)

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Gateway:
    """The streamgate process under test, with --admin and the chaos configuration."""

    def __init__(self, binary, config_path, workdir):
        self.binary, self.config_path, self.workdir = binary, config_path, workdir
        self.proc, self.port, self.admin_port = None, 0, 0
        self.exit_code = None
        self.stderr_path = os.path.join(workdir, "streamgate.stderr")

    def start(self, timeout_s):
        err = open(self.stderr_path, "a")
        self.proc = subprocess.Popen(
            [self.binary, "--config", self.config_path, "--admin", "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=err, text=True)
        # The operator's endpoints (/metrics, /admin/*) are on a listener of their own.
        self.port, self.admin_port = read_ports(self.proc, "streamgate", timeout_s,
                                                ("listening on", "admin on"))

    def url(self, path=""):
        operator = path.startswith("/admin/") or path == "/metrics"
        return f"http://127.0.0.1:{self.admin_port if operator else self.port}{path}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def get(self, path, timeout_s=5.0):
        return http("GET", self.url(path), timeout_s=timeout_s)

    def post(self, path, body=""):
        return http("POST", self.url(path), body)

    def metrics(self):
        status, body = self.get("/metrics")
        return parse_metrics(body) if status == 200 else {}

    def fds(self):
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except OSError:
            return -1

    def rss_kib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return -1

    def stop(self, timeout_s=20):
        """SIGTERM, then SIGKILL past timeout_s; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.exit_code = self.proc.returncode
        return self.exit_code

    def stderr_tail(self, lines=20):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.readlines()[-lines:]
        except OSError:
            return []


def write_config(path, upstreams, quotas, resume_window_ms, max_connections, drain_ms):
    """The multi-provider configuration: provider p<i> in front of upstream u<i>, each with its
    own quota pool, one priority route with failover across all of them per model."""
    providers = []
    for i, (u, quota) in enumerate(zip(upstreams, quotas)):
        rename = {m: "fake" + (f"@{suffix}" if suffix else "")
                  for m, (_, _, suffix) in MODELS.items()}
        providers.append({
            "name": f"p{i + 1}", "kind": "custom", "base_url": u.url("/v1"),
            "models": list(MODELS), "rename": rename, "quota": quota,
            "timeouts": {"connect_ms": 1000, "first_byte_ms": 3000, "idle_ms": 2000,
                         "total_ms": 60000},
        })
    names = [p["name"] for p in providers]
    config = {
        "listen": "127.0.0.1:0",
        "actor_threads": 2,
        "http": {"max_connections": max_connections, "max_pending_bytes": 65536,
                 "write_timeout_ms": 3000, "ws_heartbeat_ms": 0},
        "sessions": {"resume_window_ms": resume_window_ms, "max_attempts": 3,
                     "open_timeout_ms": 3000, "attempt_deadline_ms": 8000},
        "supervision": {"max_restarts": 100, "window_ms": 60000, "backoff_initial_ms": 20,
                        "backoff_max_ms": 200},
        "breaker": {"failure_threshold": 5, "cooldown_ms": 1000},
        "shutdown": {"drain_ms": drain_ms},
        "providers": providers,
        "routes": {m: {"strategy": "priority", "providers": names} for m in MODELS},
    }
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return config


class Lane:
    """One kind of client load: loadgen runs in batches, back to back, until the scenario's
    load ends; their JSON summaries are merged. A batch's streams all end by themselves
    (bounded by --timeout-s), so no stream is abandoned when the load stops."""

    def __init__(self, name, protocol, model="chaos", concurrency=4, batch=8, flags=()):
        self.name, self.protocol, self.model = name, protocol, model
        self.concurrency, self.batch, self.flags = concurrency, batch, list(flags)
        self.summaries, self.errors = [], []

    def command(self, loadgen, gateway, seed, out):
        chunks, size, _ = MODELS[self.model]
        return [loadgen, "--url", gateway.url(), "--protocol", self.protocol, "--model", self.model,
                "--concurrency", str(self.concurrency), "--requests", str(self.batch),
                "--expect-text", f"{chunks}:{size}", "--seed", str(seed), "--timeout-s", "30",
                "--max-duration-s", "90", "--json", out] + self.flags

    def run(self, loadgen, gateway, seed, workdir, keep_going):
        """Runs batches while keep_going() is true (at least one)."""
        n = 0
        while True:
            out = os.path.join(workdir, f"lane-{self.name}-{n}.json")
            cmd = self.command(loadgen, gateway, seed * 1000 + n, out)
            try:
                p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, timeout=150)
                if p.returncode not in (0, 3):
                    self.errors.append(f"loadgen exited {p.returncode}: {p.stderr.strip()[:300]}")
                else:
                    with open(out) as f:
                        self.summaries.append(json.load(f))
            except (subprocess.TimeoutExpired, OSError, ValueError) as e:
                self.errors.append(f"loadgen batch {n}: {e}")
            n += 1
            if not keep_going():
                return

    def merged(self):
        """Streams, outcomes by code and the check counters over every batch."""
        m = {"streams": 0, "outcomes": {}, "multiple_terminals": 0, "resumed_streams": 0,
             "resumes": 0, "seq_errors": 0, "text_checked": 0, "text_mismatches": 0,
             "text_problems": [], "errors": list(self.errors), "ttft_p50_ms": None,
             "client_errors": {}}
        ttfts = []
        for s in self.summaries:
            m["streams"] += s["streams"]
            for code, n in s.get("outcomes", {}).items():
                m["outcomes"][code] = m["outcomes"].get(code, 0) + n
            for k in ("multiple_terminals", "resumed_streams", "resumes", "seq_errors",
                      "text_checked", "text_mismatches"):
                m[k] += s.get(k, 0)
            m["text_problems"] += s.get("text_problems", [])[: 5 - len(m["text_problems"])]
            # What the clients saw, by message (a stream that ended otherwise than done).
            for msg, n in s.get("errors", {}).items():
                m["client_errors"][msg] = m["client_errors"].get(msg, 0) + n
            if s.get("ttft_ms"):
                ttfts.append(s["ttft_ms"]["p50"])
        if ttfts:
            m["ttft_p50_ms"] = round(sorted(ttfts)[len(ttfts) // 2], 1)
        return m


def run_idle_flood(loadgen, gateway, protocol, sockets, hold_s, out):
    """loadgen's idle mode: opens `sockets` connections, holds them hold_s, closes them."""
    cmd = [loadgen, "--url", gateway.url(), "--protocol", protocol, "--idle-connections",
           str(sockets), "--hold-s", str(hold_s), "--timeout-s", "10", "--json", out]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       timeout=hold_s + 60)
    try:
        with open(out) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"error": p.stderr.strip()[:300]}
