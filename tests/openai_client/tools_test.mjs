// The official `openai` npm client through streamgate, for what OpenAI clients build on beyond
// plain text: tool calls (with the SDK's own stream helpers and runTools), reasoning, n: 2 and
// stream: false. What the client gets through the gateway must be byte-identical to what the
// same client gets straight from the upstream (the project's fake upstream, which makes the
// same answer for the same request).
// Usage: node tools_test.mjs <streamgate binary> <fake-upstream binary>
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStreamgate } from '../support/streamgate_process.mjs';

const [gatewayBinary, fakeBinary] = process.argv.slice(2);

async function startFake() {
  const fake = spawn(fakeBinary, ['--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    fake.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    fake.on('exit', () => reject(new Error('fake upstream exited early')));
  });
  return { fake, port };
}

const { fake, port: fakePort } = await startFake();
const dir = mkdtempSync(join(tmpdir(), 'sg-tools-'));
const config = join(dir, 'config.json');
// The fake upstream shapes its answer by a model suffix; the gateway's `rename` maps a client
// model onto it, and a direct client names the suffixed model itself.
const shaped = {
  tools: 'fake@tool_calls=2,fragments=6,reasoning=3',
  text: 'fake',
  cut: 'fake@tool_calls=1,fragments=6,drop_after=3',
};
const fakeUrl = `http://127.0.0.1:${fakePort}/v1`;
writeFileSync(config, JSON.stringify({
  providers: [
    { name: 'fake', kind: 'custom', base_url: fakeUrl, models: Object.keys(shaped), rename: shaped },
    { name: 'mock', kind: 'mock', models: ['mock'], mock: { first_token_ms: 0, interval_ms: 1 } },
    // Down before its first token: the session moves on to the fake, transparently.
    { name: 'broken', kind: 'mock', models: ['flaky'], mock: { fail: 'upstream_server_error' } },
    { name: 'fake-flaky', kind: 'custom', base_url: fakeUrl, models: ['flaky'], rename: { flaky: shaped.tools } },
  ],
  routes: { flaky: ['broken', 'fake-flaky'] },
}));
const { server, port } = await startStreamgate(gatewayBinary, ['--config', config]);
const killTimer = setTimeout(() => {
  server.kill('SIGKILL');
  fake.kill('SIGKILL');
  process.exit(1);
}, 120000);

const gateway = new OpenAI({ apiKey: 'not-needed', baseURL: `http://127.0.0.1:${port}/v1` });
const direct = new OpenAI({ apiKey: 'not-needed', baseURL: `http://127.0.0.1:${fakePort}/v1` });
const tools = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];
const messages = [{ role: 'user', content: 'Lyon' }];

// The SDK's stream helper: its final completion, assembled by the SDK from the chunks.
async function finalOf(client, body) {
  return client.beta.chat.completions.stream(body).finalChatCompletion();
}

// The same request, to the gateway under its client model and straight to the upstream.
async function both(model, body) {
  return [await finalOf(gateway, { ...body, model }), await finalOf(direct, { ...body, model: shaped[model] })];
}

// Everything but the gateway's own id, created and model.
function comparable(completion) {
  return completion.choices.map((c) => ({
    index: c.index, finish_reason: c.finish_reason, message: c.message,
  }));
}

try {
  // Two parallel tool calls split over 6 fragments each, after a reasoning phase.
  const body = { messages, tools, stream_options: { include_usage: true } };
  const [viaGateway, straight] = await both('tools', body);
  const calls = viaGateway.choices[0].message.tool_calls;
  assert.equal(calls.length, 2);
  assert.deepEqual(calls, straight.choices[0].message.tool_calls);  // byte-identical arguments
  assert.equal(calls[0].function.name, 'get_weather');
  assert.equal(calls[1].function.name, 'get_time');
  JSON.parse(calls[0].function.arguments);  // whole JSON once assembled
  assert.equal(viaGateway.choices[0].finish_reason, 'tool_calls');
  assert.ok(viaGateway.choices[0].message.reasoning_content?.length > 0);
  assert.equal(viaGateway.choices[0].message.reasoning_content,
               straight.choices[0].message.reasoning_content);
  assert.deepEqual(comparable(viaGateway), comparable(straight));
  assert.equal(viaGateway.system_fingerprint, straight.system_fingerprint);
  assert.deepEqual(viaGateway.usage, straight.usage);

  // Two choices, each with its own text and finish_reason.
  const two = { messages, n: 2 };
  const [twoVia, twoStraight] = await both('text', two);
  assert.equal(twoVia.choices.length, 2);
  assert.notEqual(twoVia.choices[0].message.content, twoVia.choices[1].message.content);
  assert.deepEqual(comparable(twoVia), comparable(twoStraight));

  // stream: false: the gateway assembles what it streamed; the upstream answers whole.
  const whole = await gateway.chat.completions.create({ ...body, model: 'tools', stream: false });
  const wholeStraight = await direct.chat.completions.create({ ...body, model: shaped.tools, stream: false });
  assert.deepEqual(whole.choices[0].message.tool_calls, wholeStraight.choices[0].message.tool_calls);
  assert.equal(whole.choices[0].message.reasoning_content,
               wholeStraight.choices[0].message.reasoning_content);
  assert.equal(whole.choices[0].finish_reason, 'tool_calls');
  const twoWhole = await gateway.chat.completions.create({ ...two, model: 'text', stream: false });
  assert.deepEqual(twoWhole.choices.map((c) => c.message.content),
                   twoVia.choices.map((c) => c.message.content));

  // Failover before the first token works the same for a tool call.
  const failed = await finalOf(gateway, { ...body, model: 'flaky' });
  assert.deepEqual(failed.choices[0].message.tool_calls, calls);

  // After the first fragment, a cut is upstream_interrupted, as for text.
  const cut = gateway.beta.chat.completions.stream({ ...body, model: 'cut' });
  await assert.rejects(cut.finalChatCompletion(), (err) => err.code === 'upstream_interrupted');

  // runTools: the SDK calls our function with the arguments the mock chose, sends the
  // result back, and the mock answers with it.
  let called = null;
  const runner = gateway.beta.chat.completions.runTools({
    model: 'mock',
    messages: [{ role: 'user', content: 'Paris' }],
    tools: [{
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
        function: (args) => { called = args; return { temperature: 21 }; },
        parse: JSON.parse,
      },
    }],
    stream: true,
  });
  const answer = await runner.finalContent();
  assert.equal(called.city, 'Paris');
  assert.match(answer, /The tool answered: .*21/);
  console.log('openai client: tool calls, reasoning, n: 2, stream: false, failover and runTools through the gateway');
} finally {
  clearTimeout(killTimer);
  server.kill('SIGTERM');
  fake.kill('SIGTERM');
  await Promise.all([once(server, 'exit'), once(fake, 'exit')]);
}
