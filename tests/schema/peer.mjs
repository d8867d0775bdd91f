// A scripted peer for `mcpd serve --stdio`: writes raw lines to the server,
// keeps every line the server writes (in order, unparsed, so a stray log
// line on stdout is caught), and matches responses to requests by id.
import { spawn } from 'node:child_process';

const REPLY_TIMEOUT_MS = 5000;

export class Peer {
  constructor(bin, args) {
    this.child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.lines = [];          // { raw, message | undefined, parseError | undefined }
    this.stderr = '';
    this.waiters = new Map(); // id (JSON text) -> resolve
    this.listeners = [];
    this.onRequest = undefined; // called with each request the server sends
    this.exit = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    this.child.stdin.on('error', () => {}); // the server closing early shows up in the checks
    let pending = '';
    this.child.stdout.on('data', (chunk) => {
      pending += chunk.toString('utf8');
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    this.child.stdout.on('end', () => {
      if (pending.length) this.onLine(pending);
      // Nothing more can arrive: settle whoever still waits.
      for (const resolve of this.waiters.values()) resolve(undefined);
      this.waiters.clear();
      for (const listener of this.listeners) listener.abandon();
    });
    this.child.stderr.on('data', (chunk) => { this.stderr += chunk.toString('utf8'); });
  }

  onLine(raw) {
    const entry = { raw };
    try {
      entry.message = JSON.parse(raw);
    } catch (err) {
      entry.parseError = err.message;
    }
    this.lines.push(entry);
    const m = entry.message;
    for (const listener of this.listeners) listener(m, raw);
    if (m && typeof m === 'object' && !Array.isArray(m) && 'method' in m && 'id' in m) {
      this.onRequest?.(m);
    } else if (m && typeof m === 'object' && !Array.isArray(m) && !('method' in m) && 'id' in m) {
      const key = JSON.stringify(m.id);
      const resolve = this.waiters.get(key);
      if (resolve) {
        this.waiters.delete(key);
        resolve(m);
      }
    }
  }

  writeRaw(text) {
    this.child.stdin.write(text + '\n');
  }

  // Bytes exactly as given: no newline added, for framing tests.
  writeBytes(bytes) {
    this.child.stdin.write(bytes);
  }

  send(message) {
    this.writeRaw(JSON.stringify(message));
  }

  // Resolves with the response whose id equals `id`, or undefined on timeout.
  reply(id, timeoutMs = REPLY_TIMEOUT_MS) {
    return new Promise((resolve) => {
      const key = JSON.stringify(id);
      const timer = setTimeout(() => { this.waiters.delete(key); resolve(undefined); }, timeoutMs);
      this.waiters.set(key, (m) => { clearTimeout(timer); resolve(m); });
    });
  }

  // Resolves with the next parsed message that satisfies `match(message, rawLine)`.
  next(match, timeoutMs = REPLY_TIMEOUT_MS) {
    return new Promise((resolve) => {
      const listener = (m, raw) => {
        if (!match(m, raw)) return;
        this.listeners = this.listeners.filter((l) => l !== listener);
        clearTimeout(timer);
        resolve(m);
      };
      listener.abandon = () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        clearTimeout(timer);
        resolve(undefined);
      };
      const timer = setTimeout(listener.abandon, timeoutMs);
      this.listeners.push(listener);
    });
  }

  // Closes stdin and waits for the server to exit; kills it after the grace.
  async close(graceMs = 5000) {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const result = await this.exit;
    clearTimeout(timer);
    return result;
  }
}
