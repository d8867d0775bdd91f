// Client interop: `mcpd call` against sdk_server.mjs, a server built with the
// official TypeScript SDK. Each test runs the command as a user would and
// asserts on its stdout, stderr and exit status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, accessSync, constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

if (!existsSync(join(here, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json'))) {
  throw new Error('tests/client: npm package @modelcontextprotocol/sdk is not installed; ' +
    'run scripts/install-deps.sh (it runs npm ci from package-lock.json)');
}
const mcpd = process.env.MCPD_BIN || resolve(here, '../../build/mcpd');
accessSync(mcpd, constants.X_OK);

// The target is one argument; the single quotes exercise the quoting rule.
const target = `stdio:${process.execPath} '${join(here, 'sdk_server.mjs')}'`;

function call(args) {
  const r = spawnSync(mcpd, ['call', ...args], { encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function callOk(method, params, extra = []) {
  const args = [...extra, target, method];
  if (params !== undefined) args.push(JSON.stringify(params));
  const r = call(args);
  assert.equal(r.status, 0, `mcpd call ${method} exited ${r.status}: ${r.stderr}`);
  return { result: JSON.parse(r.stdout), stderr: r.stderr, stdout: r.stdout };
}

test('tools/list through the negotiated handshake', () => {
  const { result } = callOk('tools/list');
  assert.deepEqual(result.tools.map((t) => t.name).sort(),
    ['ask_model', 'ask_user', 'brew', 'chatter', 'countdown', 'fail', 'greet', 'grow', 'multiply', 'show_roots']);
});

test('tools/call returns text content', () => {
  const { result } = callOk('tools/call', { name: 'greet', arguments: { name: 'Ada' } });
  assert.deepEqual(result.content, [{ type: 'text', text: 'Hello, Ada!' }]);
});

test('tools/call returns structured content; pretty and compact print the same value', () => {
  const params = { name: 'multiply', arguments: { a: 6, b: 7 } };
  const pretty = callOk('tools/call', params);
  const compact = callOk('tools/call', params, ['--compact']);
  assert.deepEqual(pretty.result.structuredContent, { product: 42 });
  assert.deepEqual(compact.result, pretty.result);
  assert.equal(compact.stdout.trim().split('\n').length, 1);
  assert.ok(pretty.stdout.trim().split('\n').length > 1);
  assert.match(pretty.stdout, /\n  "content": \[/);
});

test('a tool error is a result (exit 0, isError true)', () => {
  const { result } = callOk('tools/call', { name: 'fail', arguments: {} });
  assert.equal(result.isError, true);
  assert.equal(result.content[0].text, 'this tool always fails');
});

test('progress notifications are shown with --progress', () => {
  const { result, stderr } = callOk('tools/call', { name: 'countdown', arguments: { n: 3 } }, ['--progress']);
  assert.equal(result.content[0].text, 'liftoff');
  assert.deepEqual(stderr.trim().split('\n'), ['progress: 1/3 2 left', 'progress: 2/3 1 left', 'progress: 3/3 0 left']);
});

test('progress keeps a request alive past its timeout; without it the call times out', () => {
  const params = JSON.stringify({ name: 'countdown', arguments: { n: 20 } });
  // 20 steps of 10 ms: at least 200 ms in all, against a 150 ms budget.
  const alive = call(['--timeout', '150', '--progress', target, 'tools/call', params]);
  assert.equal(alive.status, 0, alive.stderr);
  assert.equal(JSON.parse(alive.stdout).content[0].text, 'liftoff');
  const dead = call(['--timeout', '150', target, 'tools/call', params]);
  assert.equal(dead.status, 2);
  assert.equal(dead.stdout, '');
  assert.match(dead.stderr, /tools\/call: no answer within 150 ms/);
});

test('resources/read of a fixed resource and of a template', () => {
  let { result } = callOk('resources/read', { uri: 'sdk://notes' });
  assert.equal(result.contents[0].text, 'remember the milk');
  ({ result } = callOk('resources/read', { uri: 'sdk://users/42' }));
  assert.deepEqual(JSON.parse(result.contents[0].text), { id: '42', name: 'user-42' });
});

test('prompts/get fills in the arguments', () => {
  const { result } = callOk('prompts/get', { name: 'summarize', arguments: { text: 'the text' } });
  assert.equal(result.messages[0].role, 'user');
  assert.equal(result.messages[0].content.text, 'Summarize this:\n\nthe text');
});

test('an explicit handshake version is honoured', () => {
  for (const version of ['2025-06-18', '2025-03-26']) {
    const { result } = callOk('tools/call', { name: 'greet', arguments: { name: version } }, ['--protocol', version]);
    assert.equal(result.content[0].text, `Hello, ${version}!`);
  }
});

test('a JSON-RPC error exits 1 and prints the error on stderr', () => {
  const r = call([target, 'no/such-method']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /"code":-32601/);
});

test('usage and connection errors exit 2', () => {
  assert.equal(call([target]).status, 2);
  assert.equal(call([target, 'tools/call', '{"name":']).status, 2);
  assert.equal(call([target, 'tools/call', '[1]']).status, 2);
  assert.equal(call(['--protocol', '1999-01-01', target, 'tools/list']).status, 2);
  assert.equal(call(['--timeout', 'soon', target, 'tools/list']).status, 2);
  assert.equal(call(['--connect-timeout', '0', target, 'tools/list']).status, 2);
  assert.equal(call(['stdio:/nonexistent/server', 'tools/list']).status, 2);
  assert.equal(call(["stdio:node 'unterminated", 'tools/list']).status, 2);
  assert.equal(call(['ftp://example', 'tools/list']).status, 2);
  const help = call(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /stdio:COMMAND/);
});

// ---- The server asks the client: sampling, elicitation, roots ----------------

test('sampling/createMessage is answered with --sampling-response', () => {
  const reply = { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' };
  const { result } = callOk('tools/call', { name: 'ask_model', arguments: { question: 'Capital of France?' } },
    ['--sampling-response', JSON.stringify(reply)]);
  assert.equal(result.content[0].text, 'model test-model said: Paris');
  // Without the option the client declares no sampling capability, and the
  // SDK server refuses to ask.
  const { result: refused } = callOk('tools/call', { name: 'ask_model', arguments: { question: '?' } });
  assert.equal(refused.isError, true);
});

test('elicitation/create is answered with --elicit-response (accept and decline)', () => {
  let { result } = callOk('tools/call', { name: 'ask_user', arguments: {} },
    ['--elicit-response', '{"action":"accept","content":{"name":"octocat"}}']);
  assert.equal(result.content[0].text, 'hello octocat');
  ({ result } = callOk('tools/call', { name: 'ask_user', arguments: {} },
    ['--elicit-response', '{"action":"decline"}']));
  assert.equal(result.content[0].text, 'hello (decline)');
});

test('roots/list is answered with --roots', () => {
  const { result } = callOk('tools/call', { name: 'show_roots', arguments: {} },
    ['--roots', 'file:///srv/a,file:///srv/b']);
  assert.equal(result.content[0].text, 'file:///srv/a file:///srv/b');
});

// ---- Logging, subscriptions, list changes, completion, tasks ------------------

test('--log-level sets the level; messages at or above it are printed on stderr', () => {
  let { result, stderr } = callOk('tools/call', { name: 'chatter', arguments: {} }, ['--log-level', 'info']);
  assert.equal(result.content[0].text, 'logged');
  assert.deepEqual(stderr.trim().split('\n'),
    ['log info chatter: a info message', 'log warning chatter: a warning message']);
  ({ stderr } = callOk('tools/call', { name: 'chatter', arguments: {} }, ['--log-level', 'debug']));
  assert.equal(stderr.trim().split('\n').length, 3);
  assert.match(stderr, /log debug chatter: a debug message/);
});

test('resources/subscribe then --listen prints notifications/resources/updated', () => {
  const r = call(['--compact', '--listen', '500', target, 'resources/subscribe', '{"uri":"sdk://notes"}']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], {});
  assert.deepEqual(lines.slice(1), [{ method: 'notifications/resources/updated', params: { uri: 'sdk://notes' } }]);
});

test('--listen shows notifications/tools/list_changed after the tool list grows', () => {
  const r = call(['--compact', '--listen', '300', target, 'tools/call', '{"name":"grow","arguments":{}}']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.method === 'notifications/tools/list_changed'), r.stdout);
  assert.ok(lines.some((l) => l.content && /^grown_/.test(l.content[0].text)), r.stdout);
});

test('completion/complete returns the completions', () => {
  const { result } = callOk('completion/complete',
    { ref: { type: 'ref/prompt', name: 'translate' }, argument: { name: 'language', value: 'es' } });
  assert.deepEqual(result.completion.values, ['esperanto', 'estonian']);
});

test('--task calls a tool as a task, polls it and prints its result', () => {
  const { result } = callOk('tools/call', { name: 'brew', arguments: { ms: 150 } }, ['--task', '--task-ttl', '60000']);
  assert.equal(result.content[0].text, 'brewed for 150 ms');
  assert.ok(result._meta['io.modelcontextprotocol/related-task'].taskId);
  // tasks/list then knows nothing of another connection's tasks; it answers.
  const { result: list } = callOk('tasks/list');
  assert.ok(Array.isArray(list.tasks));
});

test('bad values for the new options exit 2 and say why', () => {
  const cases = [
    [['--log-level', 'loud'], /unknown log level 'loud'/],
    [['--sampling-response', '[1]'], /--sampling-response must be a JSON object/],
    [['--elicit-response', '{"action":'], /--elicit-response is not valid JSON/],
    [['--roots', 'file:///a,,file:///b'], /--roots needs URIs/],
    [['--listen', 'forever'], /--listen needs a number/],
    [['--task'], /--task and --task-ttl apply to tools\/call only/],
  ];
  for (const [opts, message] of cases) {
    const r = call([...opts, target, 'tools/list']);
    assert.equal(r.status, 2, opts.join(' '));
    assert.match(r.stderr, message);
  }
  const help = call(['--help']).stdout;
  for (const option of ['--sampling-response', '--elicit-response', '--roots', '--log-level', '--listen', '--task']) {
    assert.ok(help.includes(option), option);
  }
});

// ---- Against mcpd's own server, in the 2026-07-28 era --------------------------

test('subscriptions/listen against mcpd serve: acknowledged, held open, cancelled at the end', () => {
  const own = `stdio:${mcpd} serve --stdio`;
  const started = Date.now();
  const r = call(['--compact', '--listen', '400', own, 'subscriptions/listen',
    '{"notifications":{"toolsListChanged":true,"resourceSubscriptions":["mcpd://demo/readme"]}}']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - started >= 400);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines[0].method, 'notifications/subscriptions/acknowledged');
  assert.equal(lines[0].params.notifications.toolsListChanged, true);
  assert.ok('io.modelcontextprotocol/subscriptionId' in lines[0].params._meta);
  // The handshake era has no subscriptions/listen: the server's -32601, exit 1.
  const old = call(['--protocol', '2025-11-25', '--listen', '100', own, 'subscriptions/listen', '{"notifications":{}}']);
  assert.equal(old.status, 1, old.stderr);
});
