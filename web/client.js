// streamgate browser client (docs/protocol.md): one answer is one session, streamed over
// WebSocket, SSE or long-polling. It falls back WS → SSE → polling when a transport cannot
// be used, and when a connection drops mid-answer it reconnects and resumes after the last
// seq it rendered, so every token is shown exactly once. A browser without a usable
// WebSocket (none at all, or one whose constructor throws) starts at SSE.
'use strict';

const SG_TRANSPORTS = ['ws', 'sse', 'poll'];
const SG_OPEN_TIMEOUT_MS = 3000;    // a transport that cannot connect this fast is skipped
const SG_RECONNECT_LIMIT = 3;       // failed reconnects in a row before the next transport
const SG_GIVE_UP_AFTER = 15;        // failed reconnects in a row on the last transport (~25 s)
const SG_WATCHDOG_MS = 40000;       // no frame (not even a heartbeat) this long: reconnect

class StreamgateAnswer {
  // hooks: transport(name), session(id), delta(piece), end(kind, detail), reconnect(count).
  // A piece is one choice's part of the answer, the same for every transport:
  // {choice, content, delta: {reasoning_content, tool_calls, refusal, ...} | undefined,
  //  finish_reason: set on the choice's last piece}.
  constructor(request, options, hooks) {
    this.request = request;
    this.hooks = hooks;
    this.base = options.base || '';
    this.wsUrl = options.wsUrl ||
      (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/ws';
    // A gateway key (docs/security.md): an Authorization header on fetch, a `bearer.KEY`
    // subprotocol on the WebSocket. EventSource cannot send either, so with a key the SSE
    // step of the fallback is left out.
    this.key = options.key || '';
    this.order = options.transport ? [options.transport] : SG_TRANSPORTS.slice();
    if (this.key) this.order = this.order.filter((t) => t !== 'sse');
    this.session = null;
    this.lastSeq = 0;
    this.ended = false;
    this.stats = { duplicates: 0, gaps: 0, reconnects: 0 };
    this.streamNo = 0;
    this.failures = 0;  // consecutive failed connects on the current transport
  }

  start() { this.next(); }

  // Moves to the next transport in the order, keeping the session if there is one.
  next() {
    const t = this.order.shift();
    if (!t) return this.fail({ code: 'no_transport', message: 'no transport works' });
    this.transport = t;
    this.failures = 0;
    this.hooks.transport(t);
    this.open();
  }

  // Connects (or reconnects) over the current transport.
  open() {
    ({ ws: () => this.openWs(), sse: () => this.openSse(), poll: () => this.poll() })[this.transport]();
  }

  // A connection failed. If it never worked and there is nothing to resume, or it failed too
  // often in a row, try the next transport; otherwise reconnect and resume after the last
  // seq. On the last transport keep trying (the session waits for its resume window).
  dropped(everOpened) {
    if (this.ended) return;
    this.failures = everOpened ? 0 : this.failures + 1;
    if (!everOpened && !this.session) return this.next();
    if (this.failures >= SG_RECONNECT_LIMIT && this.order.length) return this.next();
    if (this.failures >= SG_GIVE_UP_AFTER) {
      return this.fail({ code: 'connection_lost', message: 'the server is unreachable' });
    }
    this.stats.reconnects++;
    this.hooks.reconnect(this.stats.reconnects);
    const delay = Math.min(2000, 100 * 2 ** this.failures);
    setTimeout(() => { if (!this.ended) this.open(); }, delay);
  }

  // One event of the session in the common shape {seq, type, ...}: exactly once, in order.
  event(ev, seqMayJump) {
    if (this.ended) return;
    if (ev.seq !== undefined) {
      if (ev.seq <= this.lastSeq) { this.stats.duplicates++; return; }
      if (ev.seq !== this.lastSeq + 1 && !seqMayJump) this.stats.gaps++;
      this.lastSeq = ev.seq;
    }
    if (ev.type === 'delta') {
      this.hooks.delta({
        choice: ev.choice || 0, content: ev.content || '', delta: ev.delta,
        finish_reason: ev.finish_reason,
      });
    } else if (ev.type === 'usage') return;
    else if (ev.type === 'done') this.finish('done', { finish_reason: ev.finish_reason });
    else if (ev.type === 'cancelled') this.finish('cancelled', { reason: ev.reason });
    else if (ev.type === 'error') this.fail(ev);
  }

  // Ends the answer with an error: `error` carries the server's code and message.
  fail(error) { this.finish('error', { code: error.code, message: error.message }); }

  finish(kind, detail) {
    if (this.ended) return;
    this.ended = true;
    this.closeConnections();
    this.hooks.end(kind, detail);
  }

  closeConnections() {
    clearTimeout(this.watchdog);
    if (this.ws) { this.ws.onclose = null; this.ws.close(); this.ws = null; }
    if (this.es) { this.es.close(); this.es = null; }
    if (this.pollAbort) { this.pollAbort.abort(); this.pollAbort = null; }
  }

  stop() {
    if (this.ended) return;
    if (this.transport === 'ws' && this.ws && this.ws.readyState === 1 /* OPEN */) {
      this.ws.send(JSON.stringify({ type: 'cancel', id: this.streamId }));
    } else if (this.session) {
      fetch(`${this.base}/v1/sessions/${this.session}/cancel`,
        { method: 'POST', headers: this.authHeaders() });
    }
    // The `cancelled` event ends the answer once the server has stopped the upstream.
  }

  // --- WebSocket -------------------------------------------------------------------------
  openWs() {
    let opened = false;
    let ws;
    try {
      // ReferenceError when there is no WebSocket at all; a constructor may throw too (a
      // blocked scheme, a policy, a broken polyfill): both are a transport that cannot connect.
      ws = this.key ? new WebSocket(this.wsUrl, ['streamgate', 'bearer.' + this.key])
                    : new WebSocket(this.wsUrl);
    } catch (e) {
      return setTimeout(() => this.dropped(false), 0);
    }
    this.ws = ws;
    const timer = setTimeout(() => { if (!opened) ws.close(); }, SG_OPEN_TIMEOUT_MS);
    const pet = () => {
      clearTimeout(this.watchdog);
      this.watchdog = setTimeout(() => ws.close(), SG_WATCHDOG_MS);
    };
    ws.onopen = () => {
      opened = true;
      clearTimeout(timer);
      pet();
      this.streamId = 'a' + (++this.streamNo);
      ws.send(JSON.stringify(this.session
        ? { type: 'resume', id: this.streamId, session: this.session, after: this.lastSeq }
        : { type: 'start', id: this.streamId, request: this.request }));
    };
    ws.onmessage = (m) => {
      pet();
      const msg = JSON.parse(m.data);
      if (msg.id !== undefined && msg.id !== this.streamId) return;
      if (msg.type === 'started') {
        if (!this.session) { this.session = msg.session; this.hooks.session(msg.session); }
        return;
      }
      if (msg.type === 'heartbeat' || msg.type === 'pong') return;
      if (msg.type === 'error' && msg.seq === undefined) {
        // A refusal, not the session's own end (e.g. session_ended after a late resume).
        return this.fail(msg);
      }
      this.event(msg, false);
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      clearTimeout(this.watchdog);
      if (this.ws === ws) this.ws = null;
      // The gateway refused the key (4401) or its connections are used up (4429): another
      // transport or a reconnect would hear the same.
      if (e && (e.code === 4401 || e.code === 4429)) {
        return this.fail({ code: e.reason || 'invalid_api_key', message: 'the gateway refused the key' });
      }
      this.dropped(opened);
    };
  }

  // --- Server-Sent Events ----------------------------------------------------------------
  async openSse() {
    if (!this.session && !(await this.createSession())) return;
    let opened = false;
    const es = new EventSource(
      `${this.base}/v1/sessions/${this.session}/events?after=${this.lastSeq}`);
    this.es = es;
    es.onopen = () => { opened = true; };
    let lastId = '';  // lastEventId stays at the last id seen: an event without one repeats it
    es.onmessage = (m) => {
      // The end of the answer; each choice's last chunk has given its finish_reason already.
      if (m.data === '[DONE]') {
        return this.event({ type: 'done', finish_reason: this.finishReason || 'stop' }, true);
      }
      const chunk = JSON.parse(m.data);
      // Each event that carries data has its id; one without (an older server's usage
      // chunk) takes no seq.
      const seq = m.lastEventId && m.lastEventId !== lastId ? Number(m.lastEventId) : undefined;
      lastId = m.lastEventId;
      if (chunk.error) {
        return this.event(chunk.error.code === 'cancelled'
          ? { seq, type: 'cancelled', reason: chunk.error.message }
          : { seq, type: 'error', code: chunk.error.code, message: chunk.error.message }, false);
      }
      if (!chunk.choices || !chunk.choices.length) {  // the usage chunk
        return this.event({ seq, type: 'usage' }, true);
      }
      // One chunk is one piece of one choice.
      const choice = chunk.choices[0];
      const { role, content, ...rest } = choice.delta || {};
      const piece = {
        seq, type: 'delta', choice: choice.index || 0, content: content || '',
        delta: Object.keys(rest).length ? rest : undefined,
        finish_reason: choice.finish_reason || undefined,
      };
      if (piece.finish_reason && piece.choice === 0) this.finishReason = piece.finish_reason;
      // An older server sends no id for usage, so the finish chunk after it may skip a seq.
      this.event(piece, !!piece.finish_reason);
    };
    es.onerror = () => {
      // EventSource would reconnect by itself, but with the stale ?after: we resume ourselves.
      es.close();
      if (this.es === es) this.es = null;
      this.dropped(opened);
    };
  }

  async createSession() {
    try {
      const r = await fetch(`${this.base}/v1/sessions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', ...this.authHeaders() },
        body: JSON.stringify(this.request),
      });
      const body = await r.json();
      if (!r.ok) {
        this.fail(body.error);
        return false;
      }
      this.session = body.session;
      this.hooks.session(body.session);
      return true;
    } catch (e) {
      this.dropped(false);
      return false;
    }
  }

  authHeaders() {
    return this.key ? { Authorization: 'Bearer ' + this.key } : {};
  }

  // --- Long polling ----------------------------------------------------------------------
  async poll() {
    if (!this.session && !(await this.createSession())) return;
    while (!this.ended) {
      this.pollAbort = new AbortController();
      let body;
      try {
        const r = await fetch(
          `${this.base}/v1/sessions/${this.session}/events?after=${this.lastSeq}&wait_ms=25000`,
          { signal: this.pollAbort.signal, cache: 'no-store', headers: this.authHeaders() });
        body = await r.json();
        if (!r.ok) return this.fail(body.error);
      } catch (e) {
        if (this.ended) return;
        return this.dropped(false);  // counts as a failed connect until a poll succeeds
      }
      this.failures = 0;
      for (const ev of body.events) this.event(ev, false);
    }
  }
}
