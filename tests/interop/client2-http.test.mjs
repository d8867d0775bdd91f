// mcpd serve --http against @modelcontextprotocol/client 2.x over modern
// stateless Streamable HTTP, pinned to 2026-07-28: the shared checks, and
// on the wire no initialize, no session, and every POST carrying the
// version and method headers that match its body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePackages, tapTransport, startMcpdHttp, recordingFetch, rejection, EXTRA_TOOLS } from './harness.mjs';
import { interopSuite, INVALID_PARAMS } from './suite.mjs';

const MODERN = '2026-07-28';
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';

requirePackages(['@modelcontextprotocol/client']);
const { Client, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');

let main;
const adapter = {
  async connect() {
    const server = await startMcpdHttp(['--extra-tools', String(EXTRA_TOOLS)]);
    const http = recordingFetch();
    const transport = new StreamableHTTPClientTransport(server.url, { fetch: http.fetch });
    const wire = tapTransport(transport);
    const client = new Client({ name: 'mcpd-interop-client2-http', version: '2.0.0' },
      { capabilities: {}, versionNegotiation: { mode: { pin: MODERN } } });
    await client.connect(transport);
    main = { server, http, transport, wire, client };
    return {
      client, wire, transport,
      close: async () => {
        await client.close();
        wire.stderr = server.stderr;
        const status = await server.stop();
        assert.deepEqual(status, { code: 0, signal: null }, `mcpd exits cleanly on SIGTERM; stderr:\n${server.stderr}`);
      },
    };
  },
  callTool: (client, params, options) => client.callTool(params, options),
  listToolsPage: (client, cursor) =>
    client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }),
  resourceNotFoundCodes: [INVALID_PARAMS],
  cancelsByClosingStream: true,
  streamClosed: (request) => main.http.log
    .some((e) => e.method === 'POST' && e.body?.id === request.id && e.signal?.aborted === true),
};

const ctx = interopSuite(adapter);

test('the connection is modern and stateless: no initialize, no session id either way', () => {
  assert.equal(ctx.client.getProtocolEra(), 'modern');
  const posts = main.http.log.filter((e) => e.method === 'POST');
  assert.ok(posts.length > 10, `${posts.length} POSTs`);
  assert.ok(!posts.some((e) => e.body?.method === 'initialize'), 'no initialize');
  for (const post of posts) {
    assert.equal(post.responseHeaders?.['mcp-session-id'], undefined, `${post.body?.method}: no session issued`);
    assert.equal(post.headers['mcp-session-id'], undefined, `${post.body?.method}: no session sent`);
  }
  assert.ok(!main.http.log.some((e) => e.method === 'DELETE'), 'nothing to delete');
});

test('every POST names the version and method in headers that match its body, and is answered 2xx', () => {
  const posts = main.http.log.filter((e) => e.method === 'POST' && e.body && 'method' in e.body);
  for (const post of posts) {
    const what = `${post.body.method} (${post.status})`;
    assert.equal(post.headers['mcp-protocol-version'], MODERN, `${what} carries MCP-Protocol-Version`);
    if ('id' in post.body) {
      assert.equal(post.body.params?._meta?.[META_VERSION], MODERN, `${what} carries _meta protocolVersion`);
      assert.equal(post.headers['mcp-method'], post.body.method, `${what} carries Mcp-Method`);
    }
    assert.ok(post.status >= 200 && post.status < 300, `${what} answered 2xx`);
  }
  const call = posts.find((p) => p.body.method === 'tools/call');
  assert.equal(call.headers['mcp-name'], call.body.params.name, 'tools/call carries Mcp-Name');
});

test('a request naming a version the server does not speak gets -32022 with the supported list', async () => {
  const err = await rejection(() => ctx.client.listTools(
    { _meta: { [META_VERSION]: '2099-01-01' } }, { cacheMode: 'bypass' }));
  assert.equal(err.code, -32022, String(err));
  assert.ok(err.data?.supported?.includes(MODERN));
});

test('a GET on the endpoint opens no stream in the stateless era', async () => {
  const res = await fetch(main.server.url, {
    headers: { accept: 'text/event-stream', 'mcp-protocol-version': MODERN },
  });
  await res.body?.cancel();
  assert.ok(res.status === 405 || (res.status >= 400 && res.status < 500),
    `GET answered ${res.status} ${res.headers.get('content-type')}`);
});
