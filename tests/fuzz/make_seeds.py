#!/usr/bin/env python3
"""Writes the seed corpora (corpus/<target>/seed-*): real upstream chunks as
tools/fake_upstream sends them, requests and messages from the unit tests, and edge cases.
Inputs that the fuzzers found are added by hand as corpus/<target>/found-*; this script
never touches those. Run from anywhere: python3 tests/fuzz/make_seeds.py"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# --- upstream SSE: [flags][seed x4][max piece] + body -------------------------------------
def sse(name, body, zhipu=False, shift=7, seed=0x9E3779B9, piece=7):
    flags = (1 if zhipu else 0) | (shift << 1)
    if isinstance(body, str):
        body = body.encode()
    write("sse_stream", name, bytes([flags]) + struct.pack(">I", seed) + bytes([piece]) + body)


def chunk(delta, finish=None):
    return ('data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":0,'
            '"model":"fake-model","choices":[{"index":0,"delta":' + delta +
            ',"finish_reason":' + (json.dumps(finish) if finish else "null") + '}]}\n\n')


usage = {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}
openai_stream = (chunk('{"role":"assistant","content":""}') + chunk('{"content":"Hello"}') +
                 chunk('{"content":" wor\\u00e9ld \\ud83d\\ude00"}') + chunk("{}", "stop") +
                 'data: ' + json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                                        "choices": [], "usage": usage}) + '\n\ndata: [DONE]\n\n')
sse("openai", openai_stream)
sse("openai-crlf", openai_stream.replace("\n", "\r\n"), piece=3)
sse("openai-cr", openai_stream.replace("\n", "\r"), piece=1)
sse("openai-no-done", chunk('{"content":"x"}') + chunk("{}", "length"))
sse("openai-cut", chunk('{"content":"x"}'))
sse("openai-error", chunk('{"content":"a"}') + 'data: {"error":{"message":"fake mid-stream '
    'failure","type":"server_error","code":"fake_error"}}\n\n')
sse("openai-error-string", 'data: {"error":"quota gone"}\n\n')
sse("openai-malformed", 'data: {not json\n\n' + chunk('{"content":"x"}'))
sse("openai-invalid-utf8", b'data: {"choices":[{"delta":{"content":"ab\xffc"}}]}\n\n')
sse("openai-comments", ': keep-alive\n\n: ping\nretry: 10\nid: 7\nevent: message\n' +
    chunk('{"content":"x"}') + 'data: [DONE]')
sse("openai-multiline", 'data: {"choices":\ndata: [{"delta":{"content":"x"}}]}\n\n')
sse("openai-bound", chunk('{"content":"' + "x" * 200 + '"}'), shift=1)
sse("openai-usage-types", 'data: {"choices":[],"usage":{"prompt_tokens":"7","completion_tokens'
    '":-1}}\n\ndata: {"choices":[],"usage":{"prompt_tokens":1e400}}\n\n')
zhipu = ("event: add\nid: 0\ndata: Hello\n\nevent: add\nid: 1\ndata: world\n\n"
         "event: finish\nid: 2\ndata: \nmeta: " + json.dumps({"usage": usage}) + "\n\n")
sse("zhipu", zhipu, zhipu=True)
sse("zhipu-crlf", zhipu.replace("\n", "\r\n"), zhipu=True, piece=2)
sse("zhipu-error", "event: add\ndata: a\n\nevent: error\ndata: fake mid-stream failure\n\n",
    zhipu=True)
sse("zhipu-interrupted", "event: interrupted\ndata: x\n\n", zhipu=True)
sse("zhipu-cut", "event: add\ndata: a\n\n", zhipu=True)
sse("zhipu-bad-meta", "event: finish\ndata:\nmeta: {\"usage\":[1]}\n\n", zhipu=True)
sse("empty", "")

# --- one chunk, as the decoder gets it --------------------------------------------------
for i, text in enumerate([
        '{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":0,"model":"m",'
        '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
        '{"choices":[{"index":0,"delta":{"content":"Hi \\"x\\" \\u00e9\\ud83d\\ude00\\n"},'
        '"finish_reason":"stop"}]}',
        '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}',
        '{"choices":[],"usage":{"prompt_tokens":-0,"completion_tokens":2.9e3}}',
        '{"choices":[],"usage":{"prompt_tokens":18446744073709551616,"completion_tokens":1e-400}}',
        '{"error":{"message":"overloaded","type":"server_error"}}',
        '{"error":"quota gone"}', '{"error":null,"choices":[{"delta":{"content":"x"}}]}',
        '{"error":[1]}', '{"error":true}',
        '{"content":"top","delta":{"content":"no"},"choices":[{"message":{"content":"no"},'
        '"delta":{"role":"assistant","content":"yes","extra":{"content":"no"}},'
        '"finish_reason":null},{"delta":{"content":"second"},"finish_reason":"length"}]}',
        '\ufeff{"a":[{"b":[[],{}]}]} \r\n', '{"a":1} trailing', '{"a":1}{"b":2}', '[1,2]',
        '"text"', '42', 'null', '{"a":1e400}', '{"a":"\\ud800"}', '{"a":"\\udc00x"}',
        '{"a":01}', '{"a":-}', '{"a":1.}', '{"a":"\t"}', '{"a":tru}', '{"a" 1}', '{"a":[1,]}',
]):
    write("openai_chunk", "%02d" % i, text)

# --- chat requests -----------------------------------------------------------------------
ok_messages = '"messages":[{"role":"user","content":"x"}]'
for i, text in enumerate([
        '{"model":"mock","stream":true,"stream_options":{"include_usage":true},'
        '"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Hello"}],'
        '"temperature":0.2,"max_tokens":64,"mock":{"tokens":3,"first_token_ms":0,"interval_ms":1}}',
        '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]},'
        '{"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","content":"r"}]}',
        '{"model":"m","messages":[{"role":"developer","content":"\\u00e9\\ud83d\\ude00"}],'
        '"n":1,"top_p":1,"presence_penalty":-2,"frequency_penalty":2e0,"stream":false}',
        '{"messages":[]}', '{"model":"","messages":[]}', '{"model":"m"}',
        '{"model":"m","messages":{}}', '{"model":"m","messages":[1]}',
        '{"model":"m","messages":[{"content":"x"}]}',
        '{"model":"m","messages":[{"role":"wizard","content":"x"}]}',
        '{"model":"m","messages":[{"role":"user","content":5}]}',
        '{"model":"m",' + ok_messages + ',"stream":1}',
        '{"model":"m",' + ok_messages + ',"stream_options":{"include_usage":"yes"}}',
        '{"model":"m",' + ok_messages + ',"max_tokens":0}',
        '{"model":"m",' + ok_messages + ',"mock":{"tokens":-1}}',
        '{"model":"m",' + ok_messages + ',"mock":{"speed":3}}',
        '{"model":"m",' + ok_messages + ',"mock":{"interval_ms":1e9}}',
        '{"model":"m",' + ok_messages + ',"extra":[[[{"a":[{}]}]]]}',
        '[]', '{"model":"m",' + ok_messages + '}\x00\x00', '{"model":"m",', '',
]):
    write("chat_request", "%02d" % i, text)

# --- WebSocket frames: [bound][seed x4][max piece] + client bytes --------------------------
def frame(op, payload, fin=True, mask=b"\x37\xfa\x21\x3d", masked=True, rsv=0, len64=False):
    if isinstance(payload, str):
        payload = payload.encode()
    head = bytes([(0x80 if fin else 0) | rsv | op])
    n = len(payload)
    m = 0x80 if masked else 0
    if len64:  # the 64-bit length form for a short payload: allowed, if not minimal
        head += bytes([m | 127]) + struct.pack(">Q", n)
    elif n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws(name, data, shift=7, seed=0x2545F491, piece=5):
    write("ws_frames", name, bytes([shift]) + struct.pack(">I", seed) + bytes([piece]) + data)


start = ('{"type":"start","id":"s1","request":{"model":"mock","stream":true,'
         '"messages":[{"role":"user","content":"hi"}]}}')
ws("start", frame(1, start))
ws("fragmented", frame(1, start[:10], fin=False) + frame(9, "ping") +
   frame(0, start[10:40], fin=False) + frame(0, start[40:]))
ws("control", frame(9, "") + frame(10, "pong") + frame(8, struct.pack(">H", 1000) + b"bye"))
ws("close-bare", frame(8, b""))
ws("close-bad-code", frame(8, struct.pack(">H", 1005)))
ws("close-one-byte", frame(8, b"\x03"))
ws("close-bad-utf8", frame(8, struct.pack(">H", 1000) + b"\xc3"))
ws("binary-16bit", frame(2, bytes(range(256))))
ws("text-64bit", frame(1, "x" * 300, len64=True))
ws("too-big", frame(1, "x" * 100), shift=1)
ws("bad-utf8", frame(1, b"\xed\xa0\x80"))
ws("utf8-split", frame(1, "\u00e9\U0001F600".encode()[:3], fin=False) +
   frame(0, "\u00e9\U0001F600".encode()[3:]))
ws("unmasked", frame(1, "hi", masked=False))
ws("reserved", frame(1, "hi", rsv=0x40))
ws("opcode", frame(3, "hi"))
ws("long-ping", frame(9, "p" * 126))
ws("continuation-first", frame(0, "x"))
ws("fragment-interleaved", frame(1, "a", fin=False) + frame(1, "b"))

# --- WebSocket commands ------------------------------------------------------------------
for i, text in enumerate([
        start,
        '{"type":"resume","id":"r","session":"sess_x","after":17}',
        '{"type":"resume","id":"r","session":"s"}', '{"type":"cancel","id":"x"}',
        '{"type":"ping","data":[1,2,{"t":null}]}', '{"type":"ping"}', '{"type":7}',
        '{"type":"bogus","id":"a"}', '{"type":"start","id":"","request":{}}',
        '{"type":"start","id":3,"request":{}}', '{"type":"start","id":"a","request":"hi"}',
        '{"type":"start","id":"a","request":{"model":"m","messages":[]}}',
        '{"type":"resume","id":"a"}', '{"type":"resume","id":"a","session":"s","after":"1"}',
        '{"type":"resume","id":"a","session":"s","after":18446744073709551615}',
        '{"type":"resume","id":"a","session":"s","after":-1}', '{"type":"cancel"}',
        '{"type":"cancel","id":"' + "x" * 200 + '"}', 'not json', '[]',
]):
    write("ws_command", "%02d" % i, text)

# --- HTTP requests -----------------------------------------------------------------------
# The fuzz target requires this gateway key (tests/fuzz/http_request_fuzz.cpp).
KEY = "Authorization: Bearer sk-fuzz-key-0123456789"


def req(method, target, headers=(), body="", key=True):
    h = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"] + ([KEY] if key else []) + list(headers)
    if body:
        h.append(f"Content-Length: {len(body.encode())}")
        h.append("Content-Type: application/json")
    return "\r\n".join(h) + "\r\n\r\n" + body


chat = '{"model":"mock","stream":true,"messages":[{"role":"user","content":"hi"}]}'
for i, text in enumerate([
        req("POST", "/v1/chat/completions", body=chat),
        req("POST", "/v1/chat/completions", body='{"model":"mock"}'),
        req("POST", "/v1/sessions", body=chat),
        req("GET", "/v1/sessions/sess_1/events?after=3&wait_ms=100", ["Accept: text/event-stream",
                                                                       "Last-Event-ID: 5"]),
        req("GET", "/v1/sessions/sess_1/events?wait_ms=60001"),
        req("GET", "/v1/sessions/sess_1/events?after=18446744073709551616"),
        req("GET", "/v1/sessions/sess_1/events?after=-1&after=2", ["Last-Event-ID:  7 "]),
        req("GET", "/v1/sessions//events"),
        req("POST", "/v1/sessions/sess_1/cancel"), req("GET", "/v1/sessions/sess_1/cancel"),
        req("GET", "/v1/ws", ["Connection: Upgrade", "Upgrade: websocket",
                              "Sec-WebSocket-Version: 13",
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]),
        req("GET", "/v1/ws", ["Connection: Upgrade", "Upgrade: websocket",
                              "Sec-WebSocket-Version: 8"]),
        req("GET", "/v1/models") + req("GET", "/healthz") + req("HEAD", "/metrics"),
        req("GET", "/admin/providers"), req("POST", "/admin/providers/mock/crash"),
        req("POST", "/admin/connections/drop"), req("GET", "/../etc/passwd"),
        req("DELETE", "/v1/models"),
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\n{\"mod\r\n0\r\n\r\n",
        "GET /v1/models HTTP/1.0\r\n\r\n",
        req("POST", "/v1/chat/completions", body=chat, key=False),
        req("POST", "/v1/sessions", ["Authorization: Bearer sk-wrong"], body=chat, key=False),
        req("GET", "/v1/ws", ["Connection: Upgrade", "Upgrade: websocket",
                              "Sec-WebSocket-Version: 13", "Origin: http://127.0.0.1",
                              "Sec-WebSocket-Protocol: streamgate, bearer.sk-fuzz-key-0123456789",
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="], key=False),
        req("GET", "/v1/ws", ["Connection: Upgrade", "Upgrade: websocket",
                              "Sec-WebSocket-Version: 13", "Origin: https://evil.example",
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]),
        req("OPTIONS", "/v1/chat/completions", ["Origin: https://app.example",
                                                "Access-Control-Request-Method: POST"], key=False),
        req("GET", "/v1/models", ["Origin: https://app.example"]),
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\n" + KEY + "\r\nContent-Type: text/plain\r\n"
        "Content-Length: 2\r\n\r\n{}",
]):
    write("http_request", "%02d" % i, text)

# --- configuration files -----------------------------------------------------------------
with open(os.path.join(HERE, "..", "..", "examples", "providers.json")) as f:
    write("config", "example-providers", f.read())
for i, text in enumerate([
        '{}',
        '{"listen":"127.0.0.1:9000","log":{"level":"debug","file":"/dev/null"},'
        '"http":{"threads":2,"max_body_bytes":2048,"ws_max_streams":4,"admin":true},'
        '"sessions":{"resume_window_ms":1000,"max_attempts":2},"actor_threads":1,'
        '"shutdown":{"drain_ms":0},"breaker":{"failure_rate":0.5}}',
        '{"quota_pools":{"shared":{"rpm":60,"max_concurrent":2}},"providers":[{"name":"a",'
        '"kind":"mock","models":["m"],"pool":"shared","mock":{"tokens":3,"fail":"crash",'
        '"fail_first":1}},{"name":"b","kind":"custom","base_url":"http://127.0.0.1:1/v1",'
        '"adapter":"zhipu_legacy","models":["m"],"headers":{"X-A":"1"},"rename":{"m":"n"},'
        '"timeouts":{"connect_ms":1,"first_byte_ms":2,"idle_ms":3,"total_ms":4},'
        '"quota":{"max_queue":1},"max_body_bytes":1024,"max_line_bytes":256}],'
        '"routes":{"m":{"strategy":"weighted","providers":["a",{"name":"b","weight":3}]},'
        '"n":["b"]}}',
        '{"providers":[]}', '{"providers":[{"name":"a","kind":"bogus","models":["m"]}]}',
        '{"providers":[{"name":"a","models":["m"]},{"name":"a","models":["m"]}]}',
        '{"providers":[{"name":"a","models":["m"]}],"routes":{"m":["zz"]}}',
        '{"providers":[{"name":"a","kind":"openai","models":["m"],"headers":{"X:":"v"}}]}',
        '{"listen":"host:99999"}', '{"listen":":80"}', '{"http":{"threads":0}}',
        '{"breaker":{"failure_rate":"high"}}', '{"unknown":1}', '[]', '{"upstream_threads":2,'
        '"http":{"upstream_on_io_threads":true}}',
        '{"admin_listen":"127.0.0.1:9001","http":{"header_timeout_ms":500},"auth":{"keys":['
        '{"name":"a","sha256":"' + "ab" * 32 + '","rpm":60,"max_streams":2,"tpm":1000,'
        '"max_connections":3,"ws_streams_per_socket":1,"models":["mock"],"admin":true},'
        '{"name":"b","key_env":"NOT_SET_ANYWHERE"}],"ws_origins":["*"],"cors_origins":['
        '"https://a.example"],"per_client":{"max_connections":1,"session_rpm":0,'
        '"exempt_loopback":false}}}',
        '{"auth":{"disabled":true,"keys":[{"name":"a","sha256":"zz"}]}}',
]):
    write("config", "%02d" % i, text)
