// mcpd against @modelcontextprotocol/client 2.x pinned to the modern era
// (2026-07-28): no initialize, server/discover at connect, and the protocol
// version, client info and capabilities sent in _meta on every request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePackages, serverParams, tapTransport, responsesTo, rejection, waitFor, EXTRA_TOOLS, DEMO_TOOLS } from './harness.mjs';
import { interopSuite, INVALID_PARAMS, METHOD_NOT_FOUND } from './suite.mjs';

const MODERN = '2026-07-28';
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';

requirePackages(['@modelcontextprotocol/client']);
const { Client } = await import('@modelcontextprotocol/client');
const { StdioClientTransport } = await import('@modelcontextprotocol/client/stdio');

const adapter = {
  async connect() {
    const transport = new StdioClientTransport(serverParams(['--extra-tools', String(EXTRA_TOOLS)]));
    const wire = tapTransport(transport);
    const client = new Client({ name: 'mcpd-interop-client2', version: '2.0.0' },
      { capabilities: {}, versionNegotiation: { mode: { pin: MODERN } } });
    await client.connect(transport);
    return { client, wire, transport, close: () => client.close() };
  },
  callTool: (client, params, options) => client.callTool(params, options),
  // One raw page per call. listTools() without a cursor walks all pages
  // itself, so the page walk goes through request(); the aggregate is
  // checked on its own below.
  listToolsPage: (client, cursor) =>
    client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }),
  // 2026-07-28 moved resource-not-found from -32002 to -32602 (a MUST).
  resourceNotFoundCodes: [INVALID_PARAMS],
};

const ctx = interopSuite(adapter);

test('connect negotiated the modern era through server/discover, without initialize', async () => {
  assert.equal(ctx.client.getProtocolEra(), 'modern');
  assert.ok(!ctx.wire.sent.some((m) => m.method === 'initialize'), 'no initialize on the modern era');
  // The pinned connect probes on a short-lived sibling process, so the
  // connect-time discover is not on this connection's wire; the client keeps
  // its result, and an explicit discover runs here.
  assert.ok(ctx.client.getDiscoverResult().supportedVersions.includes(MODERN), 'discover offered 2026-07-28');
  await ctx.client.discover();
  const [discover] = responsesTo(ctx.wire, 'server/discover');
  assert.ok(discover?.result, `server/discover answered: ${JSON.stringify(discover)}`);
  assert.ok(discover.result.supportedVersions.includes(MODERN), 'discover offers 2026-07-28');
  assert.equal(discover.result.resultType, 'complete');
  for (const c of ['tools', 'resources', 'prompts']) assert.ok(discover.result.capabilities[c], `capability ${c} advertised`);
  assert.equal(typeof discover.result._meta?.['io.modelcontextprotocol/serverInfo']?.name, 'string', 'serverInfo in _meta');
});

test('a client in auto negotiation mode also lands on the modern era', async () => {
  const transport = new StdioClientTransport(serverParams());
  const client = new Client({ name: 'mcpd-interop-client2-auto', version: '2.0.0' },
    { capabilities: {}, versionNegotiation: { mode: 'auto' } });
  await client.connect(transport);
  try {
    assert.equal(client.getProtocolEra(), 'modern');
    const result = await client.callTool({ name: 'echo', arguments: { text: 'auto' } });
    assert.equal(result.content[0].text, 'auto');
  } finally {
    await client.close();
  }
});

test('every request carried the per-request _meta envelope and every result a resultType', () => {
  const requests = ctx.wire.sent.filter((m) => 'id' in m && 'method' in m);
  assert.ok(requests.length > 10);
  for (const r of requests) {
    assert.equal(r.params?._meta?.[META_VERSION], MODERN, `${r.method} carries the protocol version`);
    assert.ok(r.params._meta['io.modelcontextprotocol/clientCapabilities'], `${r.method} carries client capabilities`);
  }
  const results = ctx.wire.received.filter((m) => 'result' in m);
  for (const r of results) {
    assert.equal(r.result.resultType, 'complete', `result ${r.id} has resultType`);
    assert.equal(typeof r.result._meta?.['io.modelcontextprotocol/serverInfo']?.name, 'string',
      `result ${r.id} names the server in _meta (a SHOULD on every response)`);
  }
});

test('the 2.x aggregate tools/list equals the catalog', async () => {
  const { tools } = await ctx.client.listTools(undefined, { cacheMode: 'bypass' });
  assert.equal(tools.length, DEMO_TOOLS.length + EXTRA_TOOLS);
});

test('ping is not a 2026-07-28 method: sent raw, the server answers -32601', async () => {
  // The 2.x client refuses to send ping on a modern connection, so it goes
  // straight onto the transport with the envelope the client would add.
  const id = 'raw-ping-1';
  const envelope = ctx.wire.sent.find((m) => m.method === 'tools/call').params._meta;
  await ctx.transport.send({ jsonrpc: '2.0', id, method: 'ping', params: { _meta: envelope } });
  const reply = await waitFor(() => ctx.wire.received.find((m) => m.id === id));
  assert.equal(reply.error?.code, METHOD_NOT_FOUND, JSON.stringify(reply));
});

test('a request naming a protocol version the server does not speak gets -32022 with the supported list', async () => {
  const err = await rejection(() => ctx.client.listTools(
    { _meta: { [META_VERSION]: '2099-01-01' } }, { cacheMode: 'bypass' }));
  assert.equal(err.code, -32022, String(err));
  assert.equal(err.data?.requested, '2099-01-01');
  assert.ok(err.data?.supported?.includes(MODERN));
});
