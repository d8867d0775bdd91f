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
