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
  assert.deepEqual(result.tools.map((t) => t.name).sort(), ['countdown', 'fail', 'greet', 'multiply']);
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
