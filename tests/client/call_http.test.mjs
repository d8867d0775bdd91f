// Client interop over Streamable HTTP: `mcpd call http://...` against
// sdk_http_server.mjs, the TypeScript SDK's StreamableHTTPServerTransport
// serving the catalog of sdk_catalog.mjs on a loopback port. The server's
// /stats shows what the client did to its sessions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
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

let server;
let base;

before(async () => {
  server = spawn(process.execPath, [join(here, 'sdk_http_server.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise((done, fail) => {
    let seen = '';
    server.stdout.on('data', (chunk) => {
      seen += chunk;
      const m = seen.match(/PORT (\d+)/);
      if (m) done(Number(m[1]));
    });
    server.on('exit', (code) => fail(new Error(`sdk_http_server.mjs exited ${code}`)));
  });
  base = `http://127.0.0.1:${port}`;
});

after(() => {
  server.stdin.end();
  server.kill();
});

function call(args) {
  const r = spawnSync(mcpd, ['call', '--compact', ...args], { encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function callOk(method, params, extra = []) {
  const args = [...extra, `${base}/mcp`, method];
  if (params !== undefined) args.push(JSON.stringify(params));
  const r = call(args);
  assert.equal(r.status, 0, `mcpd call ${method} exited ${r.status}: ${r.stderr}`);
  return { result: JSON.parse(r.stdout.split('\n')[0]), stdout: r.stdout, stderr: r.stderr };
}

async function stats() {
  return (await fetch(`${base}/stats`)).json();
}

test('tools/list and tools/call; every session is DELETEd at the end', async () => {
  const before = await stats();
  const { result } = callOk('tools/list');
  assert.ok(result.tools.some((t) => t.name === 'greet'));
  const greet = callOk('tools/call', { name: 'greet', arguments: { name: 'Ada' } });
  assert.deepEqual(greet.result.content, [{ type: 'text', text: 'Hello, Ada!' }]);
  const after = await stats();
  assert.equal(after.created - before.created, 2);
  assert.equal(after.deleted - before.deleted, 2);
  assert.equal(after.open, 0);
});

test('structured content, resources/read and prompts/get', () => {
  assert.deepEqual(callOk('tools/call', { name: 'multiply', arguments: { a: 6, b: 7 } }).result.structuredContent,
    { product: 42 });
  assert.equal(callOk('resources/read', { uri: 'sdk://notes' }).result.contents[0].text, 'remember the milk');
  assert.match(callOk('prompts/get', { name: 'summarize', arguments: { text: 'abc' } }).result.messages[0].content.text,
    /Summarize this:\n\nabc/);
});

test('progress notifications on the SSE response reach stderr', () => {
  const { result, stderr } = callOk('tools/call', { name: 'countdown', arguments: { n: 3 } }, ['--progress']);
  assert.deepEqual(result.content, [{ type: 'text', text: 'liftoff' }]);
  assert.match(stderr, /progress: 1\/3 2 left\nprogress: 2\/3 1 left\nprogress: 3\/3 0 left/);
});

test('server requests (elicitation) are answered by POSTing the response', () => {
  const { result } = callOk('tools/call', { name: 'ask_user', arguments: {} },
    ['--elicit-response', '{"action":"accept","content":{"name":"octocat"}}']);
  assert.deepEqual(result.content, [{ type: 'text', text: 'hello octocat' }]);
});

test('notifications on the GET stream: list_changed after grow', () => {
  const { stdout } = callOk('tools/call', { name: 'grow', arguments: {} }, ['--listen', '500']);
  assert.ok(stdout.split('\n').some((l) => l === '{"method":"notifications/tools/list_changed"}'), stdout);
});

test('2025-03-26 and tasks over HTTP', () => {
  assert.deepEqual(callOk('tools/call', { name: 'greet', arguments: { name: 'Old' } },
    ['--protocol', '2025-03-26']).result.content, [{ type: 'text', text: 'Hello, Old!' }]);
  const { result } = callOk('tools/call', { name: 'brew', arguments: { ms: 30 } }, ['--task']);
  assert.deepEqual(result.content, [{ type: 'text', text: 'brewed for 30 ms' }]);
});

test('a wrong path is a clear HTTP error (exit 2)', () => {
  const r = call([`${base}/nope`, 'tools/list']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /HTTP 404/);
});
