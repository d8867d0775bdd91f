// mcpd serve --http against @modelcontextprotocol/sdk 1.x's
// StreamableHTTPClientTransport, in the handshake era: the shared checks
// over HTTP, then sessions (Mcp-Session-Id issued, reused, ended by DELETE)
// and SSE resumption (a dropped response stream resumed with Last-Event-ID,
// the missed events replayed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  requirePackages, tapTransport, responsesTo, startMcpdHttp, recordingFetch, cutAfterEvents, textOf,
  EXTRA_TOOLS,
} from './harness.mjs';
import { interopSuite, RESOURCE_NOT_FOUND } from './suite.mjs';

requirePackages(['@modelcontextprotocol/sdk']);
const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { LATEST_PROTOCOL_VERSION } = await import('@modelcontextprotocol/sdk/types.js');

// SIGTERM, and mcpd must drain and exit 0 within a second or two.
async function stopServer(server) {
  const started = Date.now();
  const status = await server.stop();
  assert.deepEqual(status, { code: 0, signal: null }, `mcpd exits cleanly on SIGTERM; stderr:\n${server.stderr}`);
  assert.ok(Date.now() - started < 3000, `mcpd took ${Date.now() - started} ms to stop after SIGTERM`);
}

async function connectHttp(serverArgs, transportOptions = {}) {
  const server = await startMcpdHttp(serverArgs);
  const http = recordingFetch();
  const transport = new StreamableHTTPClientTransport(server.url, { fetch: http.fetch, ...transportOptions });
  const wire = tapTransport(transport);
  const client = new Client({ name: 'mcpd-interop-sdk1-http', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport);
  return { server, http, transport, wire, client };
}

let main;
const adapter = {
  async connect() {
    main = await connectHttp(['--extra-tools', String(EXTRA_TOOLS)]);
    return {
      client: main.client, wire: main.wire, transport: main.transport,
      close: async () => {
        await main.transport.terminateSession();
        await main.client.close();
        main.wire.stderr = main.server.stderr;
        await stopServer(main.server);
      },
    };
  },
  callTool: (client, params, options) => client.callTool(params, undefined, options),
  listToolsPage: (client, cursor) => client.listTools(cursor === undefined ? {} : { cursor }),
  resourceNotFoundCodes: [RESOURCE_NOT_FOUND],
};

const ctx = interopSuite(adapter);

test('initialize over HTTP negotiates the SDK\'s latest version; every later request carries the session and version headers', () => {
  const [init] = responsesTo(ctx.wire, 'initialize');
  assert.equal(init?.result?.protocolVersion, LATEST_PROTOCOL_VERSION);
  const posts = main.http.log.filter((e) => e.method === 'POST');
  const sessionId = posts[0].responseHeaders['mcp-session-id'];
  assert.match(sessionId ?? '', /^[\x21-\x7e]+$/, 'initialize issues an Mcp-Session-Id of visible ASCII');
  assert.equal(main.transport.sessionId, sessionId);
  assert.ok(posts.length > 10);
  for (const post of posts.slice(1)) {
    assert.equal(post.headers['mcp-session-id'], sessionId, `${post.body?.method} reuses the session`);
    assert.equal(post.headers['mcp-protocol-version'], LATEST_PROTOCOL_VERSION, `${post.body?.method} names the version`);
    assert.ok(post.status === 200 || post.status === 202, `${post.body?.method} answered ${post.status}`);
  }
});

test('a session ends with DELETE: the server answers it, then refuses the old session id with 404', async () => {
  const { server, http, transport, client } = await connectHttp([]);
  const sessionId = transport.sessionId;
  assert.ok(sessionId, 'session issued');
  const echo = await client.callTool({ name: 'echo', arguments: { text: 'in session' } });
  assert.equal(textOf(echo), 'in session');

  await transport.terminateSession();
  const del = http.log.find((e) => e.method === 'DELETE');
  assert.ok(del, 'terminateSession sent DELETE');
  assert.equal(del.headers['mcp-session-id'], sessionId);
  assert.ok(del.status >= 200 && del.status < 300, `DELETE answered ${del.status}`);
  await client.close();

  const stale = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  await stale.body?.cancel();
  assert.equal(stale.status, 404, 'a deleted session is gone');

  const unknown = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-session-id': 'never-issued', 'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
  });
  await unknown.body?.cancel();
  assert.equal(unknown.status, 404, 'a session id the server never issued is refused with 404');
  await stopServer(server);
});

test('a response stream dropped mid-call resumes with Last-Event-ID and the missed events arrive', async () => {
  const steps = 12;
  let cutIds;
  // The first slow call's SSE body breaks after 3 events; the SDK then
  // waits 300 ms (6 steps of slow) and reopens the stream with GET and
  // Last-Event-ID, on which the server must replay what was missed.
  const conn = await connectHttp(['--http-prefer-sse'], {
    reconnectionOptions: { initialReconnectionDelay: 300, maxReconnectionDelay: 300, reconnectionDelayGrowFactor: 1, maxRetries: 2 },
  });
  conn.http.rewrite = (entry, response) => {
    if (cutIds || entry.body?.method !== 'tools/call' || entry.body.params?.name !== 'slow') return undefined;
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/, 'prefer-sse answers with SSE');
    cutIds = [];
    return cutAfterEvents(response, 3, (ids) => { cutIds = ids; });
  };
  const seen = [];
  const tokens = [];
  const errors = [];
  conn.transport.onerror = (err) => errors.push(err);
  try {
    const result = await conn.client.callTool({ name: 'slow', arguments: { steps, delay_ms: 50 } }, undefined, {
      onprogress: (p) => seen.push(p.progress),
      onresumptiontoken: (token) => tokens.push(token),
      timeout: 10000,
    });
    assert.notEqual(result.isError, true, JSON.stringify(result));

    assert.ok(cutIds?.length >= 1, `the stream was cut after events with ids (${JSON.stringify(cutIds)})`);
    const resume = conn.http.log.find((e) => e.method === 'GET' && e.headers['last-event-id']);
    assert.ok(resume, `the SDK reopened the stream with Last-Event-ID; requests: ${conn.http.log.map((e) => e.method).join(' ')}`);
    assert.equal(resume.headers['last-event-id'], cutIds.at(-1), 'resumed after the last event it saw');
    assert.equal(resume.headers['mcp-session-id'], conn.transport.sessionId);
    assert.equal(resume.status, 200);

    // Every step's progress exactly once, in order: what was sent while the
    // client was away came back on the resumed stream.
    assert.equal(seen.length, steps, `one progress per step, got ${JSON.stringify(seen)}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `progress in order: ${JSON.stringify(seen)}`);
    assert.ok(tokens.length > cutIds.length, 'resumed events carried ids too');
    assert.equal(new Set(tokens).size, tokens.length, 'no event delivered twice');
    assert.ok(errors.some((e) => /disconnected/.test(String(e))), 'the SDK saw the drop');
  } finally {
    await conn.transport.terminateSession().catch(() => {});
    await conn.client.close();
    await stopServer(conn.server);
  }
});
