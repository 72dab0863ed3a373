// The browser page (web/) in headless Chromium against a real streamgate process:
// tokens stream in, Stop cancels the upstream, forced SSE and polling work, the page falls
// back by itself, a server-side cut mid-answer still ends with the full text exactly once, and
// against a gateway with keys it streams with the key from its fragment.
// Usage: node page_test.mjs <streamgate binary> <web root> <output dir>
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startStreamgate } from '../support/streamgate_process.mjs';

const [binary, webRoot, outDir] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });

const { server, port, adminPort } = await startStreamgate(binary, ['--web-root', webRoot, '--admin']);
// A second gateway that asks for a key (docs/security.md): the page takes it from #key=.
const PAGE_KEY = 'sk-page-test-0123456789abcdef';
process.env.SG_PAGE_TEST_KEY = PAGE_KEY;
const keyedConfig = join(mkdtempSync(join(tmpdir(), 'sg-keyed-')), 'keyed.json');
writeFileSync(keyedConfig, JSON.stringify(
  { auth: { keys: [{ name: 'page', key_env: 'SG_PAGE_TEST_KEY' }] } }));
const keyed = await startStreamgate(binary, ['--web-root', webRoot, '--config', keyedConfig]);
const profile = mkdtempSync(join(tmpdir(), 'sg-chromium-'));
let context;
const killTimer = setTimeout(() => {
  console.error('browser test: overall time limit reached');
  server.kill('SIGKILL');
  process.exit(1);
}, 200000);
const base = `http://127.0.0.1:${port}`;

async function json(path, init, at = base) {
  const r = await fetch(at + path, init);
  return { status: r.status, body: await r.json() };
}

// The session's whole answer, read from its log by long poll.
async function fullAnswer(session) {
  let text = '';
  let after = 0;
  for (;;) {
    const { status, body } = await json(`/v1/sessions/${session}/events?after=${after}&wait_ms=5000`);
    assert.equal(status, 200);
    for (const ev of body.events) if (ev.type === 'delta') text += ev.content;
    after = body.last_seq;
    if (body.done) return { text, last: body.events.at(-1) };
  }
}

async function waitFor(cond, what, ms = 15000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// `init`: a script that runs in the page before its own (page.addInitScript).
async function openPage(query, init, at = base, fragment = '') {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  if (init) await page.addInitScript(init);
  await page.goto(`${at}/?${query}${fragment}`);
  return page;
}

// The mock provider's answers (providers/answer_script.cpp): words of a fixed passage, and
// a reasoning passage.
const WORDS = ('Streaming shows every token as soon as the model writes it, so nobody ever ' +
  'thinks the answer is stuck; stop it at once. Then').split(' ');
const REASONING = 'Let me think this through: the user wants an answer that comes quickly, ' +
  'step by step.';
const mockText = (n, from = 0) =>
  Array.from({ length: n }, (_, i) => WORDS[(from + i) % WORDS.length] + ' ').join('');
const reasoningText = (n) => REASONING.split(' ').slice(0, n).map((w) => w + ' ').join('');
const PROMPT = 'Tell me why streaming matters.';  // the page's default prompt

// What the page shows of choice 0 of the last answer.
const shown = (page) => page.evaluate(() => {
  const turn = [...document.querySelectorAll('.assistant')].at(-1);
  const reasoning = turn.querySelector(':scope > details.reasoning');
  return {
    text: turn.querySelector(':scope > .text').textContent,
    reasoning: reasoning ? reasoning.querySelector('.reasoning-text').textContent : null,
    reasoningOpen: reasoning ? reasoning.open : null,
    calls: [...turn.querySelectorAll(':scope > .tool-calls > .tool-call')].map((c) => ({
      id: c.dataset.id, name: c.querySelector('.tool-name').textContent,
      arguments: c.querySelector('.tool-args').textContent,
    })),
    finishReason: turn.dataset.finishReason,
    choice1: turn.querySelector('.choice[data-choice="1"] .text')?.textContent ?? null,
  };
});

const answerText = (page) => page.locator('.assistant .text').last().textContent();

async function send(page) {
  await page.click('#send');
  await page.waitForFunction(() => window.sg && window.sg.session);
}

async function finished(page, state = 'done') {
  await page.waitForSelector(`body[data-state="${state}"]`, { timeout: 20000 });
  return page.evaluate(() => ({
    session: window.sg.session, stats: window.sg.stats, transport: document.body.dataset.transport,
  }));
}

async function expectExactlyOnce(page, info) {
  assert.deepEqual([info.stats.duplicates, info.stats.gaps], [0, 0], 'no duplicate, no gap');
  const full = await fullAnswer(info.session);
  assert.ok(full.text.length > 0);
  assert.equal(await answerText(page), full.text, 'the page shows the whole answer once');
  assert.equal(full.last.type, 'done');
}

const tests = {
  async tokens_stream_in_over_websocket_by_default() {
    const page = await openPage('tokens=40&interval=25');
    await send(page);
    // Rendered as they arrive: the text grows while the answer is still streaming.
    const lengths = new Set();
    await waitFor(async () => {
      const state = await page.evaluate(() => document.body.dataset.state);
      if (state === 'streaming') lengths.add((await answerText(page)).length);
      return lengths.size >= 3 || state === 'done';
    }, 'text growing while streaming');
    assert.ok(lengths.size >= 3, 'saw the text grow during streaming');
    const info = await finished(page);
    assert.equal(info.transport, 'ws');
    assert.equal(await page.textContent('#transport'), 'ws');
    await expectExactlyOnce(page, info);
    await page.screenshot({ path: join(outDir, 'page.png') });
  },

  async forced_sse_streams_the_answer() {
    const page = await openPage('transport=sse&tokens=30&interval=10');
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, 'sse');
    await expectExactlyOnce(page, info);
  },

  async forced_polling_streams_the_answer() {
    const page = await openPage('transport=poll&tokens=30&interval=10');
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, 'poll');
    await expectExactlyOnce(page, info);
  },

  async falls_back_to_sse_when_websocket_cannot_connect() {
    const page = await openPage('ws_url=ws://127.0.0.1:9/v1/ws&tokens=20&interval=5');
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, 'sse');
    await expectExactlyOnce(page, info);
  },

  async falls_back_to_sse_when_the_browser_has_no_websocket() {
    const page = await openPage('tokens=20&interval=5', () => { delete window.WebSocket; });
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, 'sse');
    await expectExactlyOnce(page, info);
    assert.equal(await answerText(page), mockText(20));
  },

  async falls_back_to_sse_when_the_websocket_constructor_throws() {
    const page = await openPage('tokens=20&interval=5', () => {
      window.WebSocket = function WebSocket() {
        throw new DOMException('blocked by policy', 'SecurityError');
      };
    });
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, 'sse');
    await expectExactlyOnce(page, info);
  },

  async falls_back_to_polling_when_sse_is_blocked_too() {
    const page = await openPage('ws_url=ws://127.0.0.1:9/v1/ws&tokens=20&interval=5');
    // A proxy that cuts event streams: every text/event-stream request fails.
    await page.route('**/events*', (route) =>
      (route.request().headers().accept || '').includes('text/event-stream')
        ? route.abort('connectionreset') : route.continue());
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, 'poll');
    await expectExactlyOnce(page, info);
  },
};

// Stop, and a server-side cut of the connection mid-answer, on each transport; and the
// shapes of issue 18 (reasoning, tool calls, n: 2) on each transport.
for (const transport of ['ws', 'sse', 'poll']) {
  tests[`reasoning_and_two_tool_calls_render_as_such_over_${transport}`] = async () => {
    const page = await openPage(
      `transport=${transport}&reasoning=4&tool_calls=2&fragments=5&interval=5`);
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, transport);
    assert.deepEqual([info.stats.duplicates, info.stats.gaps], [0, 0]);
    const s = await shown(page);
    assert.equal(s.reasoning, reasoningText(4), 'reasoning in its own block');
    assert.equal(s.text, '', 'no tool call as text');
    assert.deepEqual(s.calls, [0, 1].map((k) => ({
      id: `call_0_${k}`, name: 'get_weather',
      arguments: JSON.stringify({ city: PROMPT, days: k + 1 }),
    })));
    assert.equal(s.finishReason, 'tool_calls');
    if (transport === 'ws') await page.screenshot({ path: join(outDir, 'tool_calls.png') });
  };

  tests[`reasoning_folds_away_from_the_answer_over_${transport}`] = async () => {
    const page = await openPage(`transport=${transport}&reasoning=6&tokens=8&interval=5`);
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, transport);
    const s = await shown(page);
    assert.equal(s.reasoning, reasoningText(6));
    assert.equal(s.text, mockText(8), 'the answer without the reasoning');
    assert.equal(s.reasoningOpen, false, 'folded once the answer began');
    assert.deepEqual(s.calls, []);
    assert.equal(s.finishReason, 'stop');
    if (transport === 'ws') await page.screenshot({ path: join(outDir, 'reasoning.png') });
  };

  tests[`two_choices_stay_apart_over_${transport}`] = async () => {
    const page = await openPage(`transport=${transport}&n=2&tokens=6&interval=5`);
    await send(page);
    await finished(page);
    const s = await shown(page);
    assert.equal(s.text, mockText(6));
    assert.equal(s.choice1, mockText(6, 1));
  };

  tests[`stop_over_${transport}_cancels_and_the_server_closes_the_upstream`] = async () => {
    const page = await openPage(`transport=${transport}&tokens=100000&interval=20`);
    await send(page);
    await waitFor(async () => (await answerText(page)).length > 20, 'first tokens');
    const { body } = await json('/healthz');
    assert.ok(body.active_upstreams >= 1);
    await page.click('#stop');
    const info = await finished(page, 'cancelled');
    assert.equal(info.transport, transport);
    assert.match(await page.textContent('.assistant .outcome'), /stopped/);
    await waitFor(async () => (await json('/healthz')).body.active_upstreams === 0,
      'the upstream to be closed');
    assert.equal((await json('/healthz')).body.active_sessions, 0);
    assert.equal((await fullAnswer(info.session)).last.type, 'cancelled');
    if (transport === 'ws') await page.screenshot({ path: join(outDir, 'stopped.png') });
  };

  // Refused before any session exists: a WebSocket error frame, or the 404 of POST /v1/sessions.
  tests[`an_unknown_model_over_${transport}_ends_in_a_clear_error`] = async () => {
    const page = await openPage(`transport=${transport}&model=nope`);
    await page.click('#send');
    const info = await finished(page, 'error');
    assert.equal(info.transport, transport);
    assert.equal(info.session, null);
    assert.match(await page.textContent('.assistant .outcome'),
      /^\[error: model_not_found\] .*'nope'/);
  };

  tests[`server_cut_mid_answer_over_${transport}_ends_with_the_full_text_once`] = async () => {
    const page = await openPage(`transport=${transport}&tokens=60&interval=25`);
    await send(page);
    await waitFor(async () => (await answerText(page)).length > 30, 'first tokens');
    // A long poll has a connection in flight only while it waits, so the cut may find none
    // at a given instant: cut again until one was really dropped.
    await waitFor(async () => {
      const cut = await json('/admin/connections/drop', { method: 'POST' },
        `http://127.0.0.1:${adminPort}`);
      assert.equal(cut.status, 200);
      return cut.body.dropped >= 1;
    }, 'a connection to cut');
    const info = await finished(page);
    // Chromium itself retries a GET whose reused connection was reset before any response
    // byte, so a cut long poll may never reach the page; WS and SSE always do.
    if (transport !== 'poll') assert.ok(info.stats.reconnects >= 1, 'the page reconnected');
    assert.equal(info.transport, transport);
    await expectExactlyOnce(page, info);
    if (transport === 'ws') await page.screenshot({ path: join(outDir, 'resumed.png') });
  };
}

// With keys: the page sends its key by subprotocol (WebSocket) and header (poll), leaves out
// EventSource (which cannot send one), and shows a refused key as an error, not a retry loop.
const keyedBase = `http://127.0.0.1:${keyed.port}`;
for (const transport of ['ws', 'poll']) {
  tests[`a_keyed_gateway_streams_over_${transport}_with_the_key_from_the_fragment`] = async () => {
    const page = await openPage(`transport=${transport}&tokens=12&interval=5`, undefined,
      keyedBase, `#key=${PAGE_KEY}`);
    await send(page);
    const info = await finished(page);
    assert.equal(info.transport, transport);
    assert.equal(await answerText(page), mockText(12));
  };
  tests[`a_keyed_gateway_refuses_the_page_with_a_wrong_key_over_${transport}`] = async () => {
    const page = await openPage(`transport=${transport}&tokens=12`, undefined, keyedBase,
      '#key=sk-wrong-key');
    await page.click('#send');
    await finished(page, 'error');
    assert.match(await page.textContent('.assistant .outcome'), /^\[error: invalid_api_key\]/);
  };
}
tests.a_keyed_page_falls_back_from_websocket_to_poll_not_to_event_source = async () => {
  const page = await openPage('ws_url=ws://127.0.0.1:9/v1/ws&tokens=10&interval=5', undefined,
    keyedBase, `#key=${PAGE_KEY}`);
  await send(page);
  const info = await finished(page);
  assert.equal(info.transport, 'poll');
};

let failed = 0;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  for (const [name, fn] of Object.entries(tests)) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e.stack}`);
    }
  }
} finally {
  if (context) await context.close();
  server.kill('SIGTERM');
  keyed.server.kill('SIGTERM');
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(killTimer);
}
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);
