// mcpd against @modelcontextprotocol/sdk 1.x: the handshake era
// (initialize / initialized, then a session), as most deployed clients speak it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requirePackages, serverParams, tapTransport, responsesTo, EXTRA_TOOLS } from './harness.mjs';
import { interopSuite, RESOURCE_NOT_FOUND } from './suite.mjs';

requirePackages(['@modelcontextprotocol/sdk']);
const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
const { LATEST_PROTOCOL_VERSION } = await import('@modelcontextprotocol/sdk/types.js');

const adapter = {
  async connect() {
    const transport = new StdioClientTransport(serverParams(['--extra-tools', String(EXTRA_TOOLS)]));
    const wire = tapTransport(transport);
    const client = new Client({ name: 'mcpd-interop-sdk1', version: '1.0.0' }, { capabilities: {} });
    await client.connect(transport);
    return { client, wire, transport, close: () => client.close() };
  },
  callTool: (client, params, options) => client.callTool(params, undefined, options),
  listToolsPage: (client, cursor) => client.listTools(cursor === undefined ? {} : { cursor }),
  resourceNotFoundCodes: [RESOURCE_NOT_FOUND],
};

const ctx = interopSuite(adapter);

test('initialize negotiates the SDK\'s latest handshake version and names the server', () => {
  const [init] = responsesTo(ctx.wire, 'initialize');
  assert.ok(init?.result, `initialize answered: ${JSON.stringify(init)}`);
  assert.equal(init.result.protocolVersion, LATEST_PROTOCOL_VERSION);
  const info = ctx.client.getServerVersion();
  assert.equal(typeof info.name, 'string');
  assert.equal(typeof info.version, 'string');
  const caps = ctx.client.getServerCapabilities();
  for (const c of ['tools', 'resources', 'prompts']) assert.ok(caps[c], `capability ${c} advertised`);
  assert.ok(ctx.wire.sent.some((m) => m.method === 'notifications/initialized'), 'client sent initialized');
});

test('ping answers with an empty result', async () => {
  const result = await ctx.client.ping();
  assert.deepEqual(Object.keys(result).filter((k) => k !== '_meta'), []);
});
