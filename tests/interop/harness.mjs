// Shared pieces of the interop tests: where mcpd is, a loud failure when the
// npm peers are not installed, and a tap that records every message crossing
// the SDK's stdio transport so tests can assert on the wire, not only on what
// the SDK chose to surface.
import { existsSync, accessSync, constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// Test files import the SDKs dynamically after calling this, so a missing
// install produces this sentence instead of a bare ERR_MODULE_NOT_FOUND.
export function requirePackages(names) {
  for (const name of names) {
    if (!existsSync(join(here, 'node_modules', name, 'package.json'))) {
      throw new Error(`tests/interop: npm package ${name} is not installed; ` +
        'run scripts/install-deps.sh (it runs npm ci from package-lock.json)');
    }
  }
}

export function mcpdPath() {
  const bin = process.env.MCPD_BIN || resolve(here, '../../build/mcpd');
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`mcpd binary not found or not executable at ${bin}; build it first (make build) or set MCPD_BIN`);
  }
  return bin;
}

// Number of extra tools registered for the pagination test: enough for three
// pages at the default page size of 50, with a partial last page.
export const EXTRA_TOOLS = 120;
export const DEMO_TOOLS = ['echo', 'add', 'slow'];

export function serverParams(extraArgs = []) {
  return {
    command: mcpdPath(),
    args: ['serve', '--stdio', ...extraArgs],
    // stderr is piped (not inherited) so log lines cannot interleave with the
    // test reporter; tests print it when something fails.
    stderr: 'pipe',
  };
}

// Records every message the client sends and receives on `transport`. The
// SDK assigns transport.onmessage inside connect(), so the hook wraps
// whatever handler it installs. Works on the exact StdioClientTransport class
// (subclassing would change how the 2.x client probes the server).
export function tapTransport(transport) {
  const wire = { sent: [], received: [], stderr: '' };
  let handler;
  Object.defineProperty(transport, 'onmessage', {
    configurable: true,
    get() { return handler; },
    set(fn) {
      handler = fn && ((message, extra) => {
        wire.received.push(message);
        return fn.call(transport, message, extra);
      });
    },
  });
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    wire.sent.push(message);
    return send(message, options);
  };
  const err = transport.stderr;
  if (err) err.on('data', (chunk) => { wire.stderr += chunk.toString(); });
  return wire;
}

export function responsesTo(wire, method) {
  const ids = new Set(wire.sent.filter((m) => m.method === method && 'id' in m).map((m) => m.id));
  return wire.received.filter((m) => !('method' in m) && ids.has(m.id));
}

// Runs `fn` and returns what it threw, failing if it did not throw.
export async function rejection(fn) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to be rejected, but it succeeded');
}

// Polls `probe` until it returns something truthy, for messages the SDK does
// not route to a caller (answers to requests sent on the raw transport).
export async function waitFor(probe, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`nothing arrived within ${timeoutMs} ms`);
    await sleep(10);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function textOf(result) {
  return (result.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');
}

// ---- Streamable HTTP --------------------------------------------------------
// Each HTTP test file starts its own `mcpd serve --http` on a free loopback
// port and stops it with SIGTERM at the end, asserting a clean exit.

export async function freePort() {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise((ok, fail) => server.listen(0, '127.0.0.1', ok).on('error', fail));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

export async function startMcpdHttp(extraArgs = []) {
  const { spawn } = await import('node:child_process');
  const { connect } = await import('node:net');
  const port = await freePort();
  const child = spawn(mcpdPath(), ['serve', '--http', `127.0.0.1:${port}`, ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const server = { url: new URL(`http://127.0.0.1:${port}/mcp`), stderr: '', child };
  child.stderr.on('data', (chunk) => { server.stderr += chunk.toString(); });
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const deadline = Date.now() + 5000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mcpd exited with ${child.exitCode} before listening: ${server.stderr}`);
    const up = await new Promise((done) => {
      const s = connect(port, '127.0.0.1', () => { s.end(); done(true); });
      s.on('error', () => done(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`mcpd not listening on ${port} within 5 s: ${server.stderr}`);
    await sleep(25);
  }
  // SIGTERM, then the exit status: a graceful drain ends with 0.
  server.stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    const status = await exited;
    clearTimeout(timer);
    return status;
  };
  return server;
}

// A fetch that records every HTTP exchange (method, request headers, body,
// status, response headers) for assertions on the wire, and lets a test
// replace a response (to drop an SSE stream mid-way).
export function recordingFetch() {
  const log = [];
  const rec = {
    log,
    // (entry, response) => Response | undefined
    rewrite: undefined,
    fetch: async (url, init = {}) => {
      const headers = new Headers(init.headers);
      const entry = {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(headers),
        body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
        signal: init.signal, // aborted once the client gave up on the exchange
      };
      log.push(entry);
      const response = await fetch(url, init);
      entry.status = response.status;
      entry.responseHeaders = Object.fromEntries(response.headers);
      return rec.rewrite?.(entry, response) ?? response;
    },
  };
  return rec;
}

// Wraps an SSE response so that its body fails after `events` complete
// events (as a dropped connection does); the rest is never read and the
// connection is cancelled. onCut receives the ids of the events passed on.
export function cutAfterEvents(response, events, onCut) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let passed = 0;
  const ids = [];
  const body = new ReadableStream({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) { controller.close(); return; }
      text += decoder.decode(value, { stream: true });
      let end;
      let out = '';
      while ((end = text.search(/\r?\n\r?\n/)) !== -1 && passed < events) {
        const match = text.slice(end).match(/^\r?\n\r?\n/);
        const block = text.slice(0, end + match[0].length);
        text = text.slice(block.length);
        const id = block.match(/^id: ?(.*)$/m);
        if (id) ids.push(id[1].trim());
        if (/^data:/m.test(block)) passed++;
        out += block;
      }
      if (out) controller.enqueue(new TextEncoder().encode(out));
      if (passed >= events) {
        await reader.cancel().catch(() => {});
        onCut?.(ids);
        controller.error(new TypeError('test dropped the SSE connection'));
      }
    },
    cancel() { return reader.cancel(); },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
