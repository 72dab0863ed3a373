// The chat page: a conversation whose answers stream in through StreamgateAnswer.
'use strict';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const history = [];
let current = null;

// For tests and demos: ?tokens=N&interval=MS shape the built-in mock provider's answer.
function mockShape() {
  const shape = {};
  if (params.has('tokens')) shape.tokens = Number(params.get('tokens'));
  if (params.has('interval')) shape.interval_ms = Number(params.get('interval'));
  return Object.keys(shape).length ? shape : undefined;
}

function setState(s) {
  $('state').textContent = s;
  document.body.dataset.state = s;
}

function addTurn(role, text) {
  const div = document.createElement('div');
  div.className = 'turn ' + role;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  div.appendChild(body);
  $('log').appendChild(div);
  return div;
}

function ask(prompt) {
  history.push({ role: 'user', content: prompt });
  addTurn('user', prompt);
  const turn = addTurn('assistant', '');
  const out = turn.querySelector('.text');
  const request = { model: params.get('model') || 'mock', messages: history.slice(), stream: true };
  const mock = mockShape();
  if (mock) request.mock = mock;
  setState('connecting');
  $('send').disabled = true;
  $('stop').disabled = false;
  const answer = new StreamgateAnswer(request, {
    transport: params.get('transport') || undefined,
    wsUrl: params.get('ws_url') || undefined,
  }, {
    transport: (t) => { $('transport').textContent = t; document.body.dataset.transport = t; },
    session: (id) => { $('session').textContent = id; setState('streaming'); },
    delta: (text) => {
      if (document.body.dataset.state !== 'streaming') setState('streaming');
      out.textContent += text;
      $('log').scrollTop = $('log').scrollHeight;
    },
    reconnect: (n) => { $('reconnects').textContent = n; setState('reconnecting'); },
    end: (kind, detail) => {
      setState(kind);
      if (kind !== 'done') {
        const note = document.createElement('span');
        note.className = 'outcome';
        note.textContent = kind === 'cancelled' ? '[stopped]' : `[error: ${detail.code}] ${detail.message || ''}`;
        turn.appendChild(note);
      }
      history.push({ role: 'assistant', content: out.textContent });
      $('send').disabled = false;
      $('stop').disabled = true;
      current = null;
    },
  });
  current = answer;
  window.sg = answer;  // tests read stats, session and transport from here
  answer.start();
}

$('chat').addEventListener('submit', (e) => {
  e.preventDefault();
  const prompt = $('prompt').value.trim();
  if (prompt && !current) ask(prompt);
});
$('stop').addEventListener('click', () => { if (current) current.stop(); });
setState('idle');
