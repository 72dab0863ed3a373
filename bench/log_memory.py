#!/usr/bin/env python3
"""Memory held by session logs, measured against a real streamgate on loopback.

Starts BINARY with the mock provider, starts SESSIONS sessions of TOKENS tokens each
(POST /v1/sessions, mock shape {"tokens": N, "interval_ms": 0}: nobody reads them, so every
byte the server holds is log), and reports the process's RSS

  peak      the high-water mark while they ran (VmHWM),
  ended     once every session has ended (streamgate_session_active == 0),
  expired   once every session has expired (streamgate_session_live == 0) and the server
            has been idle for SETTLE seconds,

with the log gauge and eviction counter where the binary has them. Usage:

  bench/log_memory.py build/streamgate [--sessions 200] [--tokens 100000]
                      [--resume-window-ms 5000] [--budget BYTES]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def http(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    req = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(req + data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    head, _, rest = out.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body, rest = b"", rest
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            body, rest = body + rest[:n], rest[n + 2:]
        rest = body
    return int(head.split()[1]), rest.decode(errors="replace")


def metrics(port):
    # /metrics is on the admin listener: by default the public port + 1, on loopback.
    _, text = http(port + 1, "GET", "/metrics")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024  # MiB
    return -1


def wait_for(what, cond, limit_s):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)  # polling another process's figures: nothing to await
    print(f"log_memory: gave up waiting for {what}", file=sys.stderr)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=100000)
    ap.add_argument("--resume-window-ms", type=int, default=5000)
    ap.add_argument("--budget", type=int, default=0, help="sessions.log_budget_bytes (0: default)")
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    a = ap.parse_args()

    port = free_port()
    sessions = {"resume_window_ms": a.resume_window_ms, "max_sessions": a.sessions + 10}
    if a.budget:
        sessions["log_budget_bytes"] = a.budget
    cfg = {"listen": f"127.0.0.1:{port}", "log": {"level": "warn"}, "sessions": sessions,
           "providers": [{"name": "mock", "kind": "mock", "models": ["mock"],
                          "mock": {"tokens": 3, "first_token_ms": 0, "interval_ms": 0}}]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    proc = subprocess.Popen([a.binary, "--config", f.name], stderr=subprocess.DEVNULL)
    try:
        wait_for("the server", lambda: _up(port), 30)
        base = status(proc.pid, "VmRSS")
        body = {"model": "mock", "messages": [{"role": "user", "content": "hi"}],
                "mock": {"tokens": a.tokens, "interval_ms": 0, "first_token_ms": 0}}
        t0 = time.monotonic()
        for _ in range(a.sessions):
            code, text = http(port, "POST", "/v1/sessions", body)
            if code != 201:
                print(f"log_memory: start refused: {code} {text}", file=sys.stderr)
        wait_for("the sessions to end",
                 lambda: metrics(port).get("streamgate_session_active", 1) == 0, a.timeout)
        ran_s = time.monotonic() - t0
        m = metrics(port)
        ended = status(proc.pid, "VmRSS")
        peak = status(proc.pid, "VmHWM")
        log_ended = m.get("streamgate_session_log_bytes")
        wait_for("the sessions to expire",
                 lambda: metrics(port).get("streamgate_session_live", 1) == 0,
                 a.timeout + a.resume_window_ms / 1000)
        time.sleep(a.settle)  # let a housekeeping pass run, if the binary has one
        m2 = metrics(port)
        expired = status(proc.pid, "VmRSS")
        evicted = {k: v for k, v in m2.items() if k.startswith("streamgate_session_log_evictions")}
        outcomes = {k.split("outcome=")[1].rstrip("}"): v for k, v in m2.items()
                    if k.startswith("streamgate_session_requests_total")}
        print(json.dumps({
            "sessions": a.sessions, "tokens": a.tokens, "budget": a.budget or "default",
            "seconds_to_end": round(ran_s, 1), "rss_mib": {
                "baseline": base, "peak": peak, "all_ended": ended, "all_expired": expired},
            "log_bytes_at_end": log_ended,
            "log_bytes_after_expiry": m2.get("streamgate_session_log_bytes"),
            "evictions": evicted, "outcomes": outcomes}, indent=1))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        os.unlink(f.name)


def _up(port):
    try:
        return http(port, "GET", "/healthz")[0] == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
