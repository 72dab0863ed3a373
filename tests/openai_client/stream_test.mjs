// The official `openai` npm client, pointed at streamgate with baseURL, must stream unchanged.
// Usage: node stream_test.mjs <path to streamgate binary>
import { once } from 'node:events';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStreamgate } from '../support/streamgate_process.mjs';

const { server, port } = await startStreamgate(process.argv[2]);
const killTimer = setTimeout(() => { server.kill('SIGKILL'); process.exit(1); }, 60000);

try {
  const client = new OpenAI({ apiKey: 'not-needed', baseURL: `http://127.0.0.1:${port}/v1` });
  const shape = { tokens: 12, first_token_ms: 0, interval_ms: 2 };
  const messages = [{ role: 'user', content: 'Hello' }];

  const whole = await client.chat.completions.create({ model: 'mock', messages, mock: shape });
  const expected = whole.choices[0].message.content;
  assert.ok(expected.length > 0);

  const stream = await client.chat.completions.create({
    model: 'mock', messages, stream: true, stream_options: { include_usage: true }, mock: shape,
  });
  let text = '';
  let deltas = 0;
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.delta?.content) { text += choice.delta.content; deltas++; }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  assert.equal(text, expected);
  assert.equal(deltas, 12);
  assert.equal(finish, 'stop');
  assert.equal(usage.completion_tokens, 12);

  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'mock'));

  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages, stream: true }),
    (err) => err.status === 404 && err.code === 'model_not_found');

  // Aborting a stream from the client closes the connection and cancels the session.
  const controller = new AbortController();
  const long = await client.chat.completions.create(
    { model: 'mock', messages, stream: true, mock: { tokens: 100000, interval_ms: 5 } },
    { signal: controller.signal });
  for await (const chunk of long) { if (chunk.choices[0]?.delta?.content) break; }
  controller.abort();
  let health;
  for (let i = 0; i < 500; i++) {
    health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
    if (health.active_upstreams === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(health.active_upstreams, 0);
  console.log(`openai client: streamed ${deltas} chunks, text matches, abort cancelled upstream`);
} finally {
  clearTimeout(killTimer);
  server.kill('SIGTERM');
  await once(server, 'exit');
}
