// The chat page: a conversation whose answers stream in through StreamgateAnswer.
'use strict';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const history = [];
let current = null;

// For tests and demos: ?tokens=N&interval=MS&reasoning=N&tool_calls=N&fragments=N shape the
// built-in mock provider's answer; ?n=N asks for N choices.
function mockShape() {
  const shape = {};
  const knobs = { tokens: 'tokens', interval: 'interval_ms', reasoning: 'reasoning_tokens',
    tool_calls: 'tool_calls', fragments: 'tool_fragments' };
  for (const [param, knob] of Object.entries(knobs)) {
    if (params.has(param)) shape[knob] = Number(params.get(param));
  }
  return Object.keys(shape).length ? shape : undefined;
}

// A gateway key, when the gateway asks for one: from the page's fragment (#key=...), which
// the browser never sends to a server, so it stays out of access logs.
function gatewayKey() {
  return new URLSearchParams(location.hash.slice(1)).get('key') || undefined;
}

function setState(s) {
  $('state').textContent = s;
  document.body.dataset.state = s;
}

function el(tag, className, parent) {
  const e = document.createElement(tag);
  e.className = className;
  if (parent) parent.appendChild(e);
  return e;
}

function addTurn(role, text) {
  const div = el('div', 'turn ' + role);
  el('span', 'text', div).textContent = text;
  $('log').appendChild(div);
  return div;
}

// One choice of an answer on screen: its reasoning in a collapsible block apart from the
// answer, its text, and its tool calls (assembled by index from their fragments) as calls.
class ChoiceView {
  constructor(root, text) {
    this.root = root;
    this.text = text;
    this.calls = [];
  }

  add(piece) {
    const d = piece.delta || {};
    const thought = (d.reasoning_content || '') + (d.reasoning || '');
    if (thought) this.reasoning().textContent += thought;
    if (piece.content) {
      if (this.details) this.details.open = false;  // the answer began: fold the thinking
      this.text.textContent += piece.content;
    }
    if (d.refusal) {
      if (!this.refusal) this.refusal = el('div', 'refusal', this.root);
      this.refusal.textContent += d.refusal;
    }
    if (Array.isArray(d.tool_calls)) for (const f of d.tool_calls) this.toolFragment(f);
    if (piece.finish_reason) this.root.dataset.finishReason = piece.finish_reason;
  }

  reasoning() {
    if (!this.details) {
      this.details = document.createElement('details');
      this.details.className = 'reasoning';
      this.details.open = true;  // visible while the model thinks
      el('summary', '', this.details).textContent = 'Reasoning';
      this.thought = el('div', 'reasoning-text', this.details);
      this.root.insertBefore(this.details, this.root.firstChild);
    }
    return this.thought;
  }

  toolFragment(f) {
    const i = Number.isInteger(f.index) ? f.index : this.calls.length;
    let call = this.calls[i];
    if (!call) {
      if (!this.callList) this.callList = el('div', 'tool-calls', this.root);
      const view = el('div', 'tool-call', this.callList);
      call = this.calls[i] = {
        id: '', name: '', arguments: '', view,
        nameView: el('span', 'tool-name', view), argsView: el('code', 'tool-args', view),
      };
    }
    if (f.id) { call.id = f.id; call.view.dataset.id = f.id; }
    const fn = f.function || {};
    if (fn.name) { call.name += fn.name; call.nameView.textContent = call.name; }
    if (fn.arguments) { call.arguments += fn.arguments; call.argsView.textContent = call.arguments; }
  }
}

// The choices of one answer: choice 0 is the turn itself, the others follow it in blocks.
function choiceViews(turn) {
  const views = [new ChoiceView(turn, turn.querySelector('.text'))];
  return (i) => {
    if (!views[i]) {
      const root = el('div', 'choice', turn);
      root.dataset.choice = i;
      el('div', 'choice-label', root).textContent = `choice ${i}`;
      views[i] = new ChoiceView(root, el('span', 'text', root));
    }
    return views[i];
  };
}

function ask(prompt) {
  history.push({ role: 'user', content: prompt });
  addTurn('user', prompt);
  const turn = addTurn('assistant', '');
  const out = turn.querySelector('.text');
  const choice = choiceViews(turn);
  const request = { model: params.get('model') || 'mock', messages: history.slice(), stream: true };
  if (params.has('n')) request.n = Number(params.get('n'));
  const mock = mockShape();
  if (mock) request.mock = mock;
  setState('connecting');
  $('send').disabled = true;
  $('stop').disabled = false;
  const answer = new StreamgateAnswer(request, {
    transport: params.get('transport') || undefined,
    key: gatewayKey(),
    wsUrl: params.get('ws_url') || undefined,
  }, {
    transport: (t) => { $('transport').textContent = t; document.body.dataset.transport = t; },
    session: (id) => { $('session').textContent = id; setState('streaming'); },
    delta: (piece) => {
      if (document.body.dataset.state !== 'streaming') setState('streaming');
      choice(piece.choice).add(piece);
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
