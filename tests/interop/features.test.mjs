// mcpd serve --stdio --all-features against the official TypeScript clients,
// for what a server asks of its client and what it sends on its own:
//  - elicitation: the `confirm` tool asks for a confirmation. With the 1.x
//    SDK (handshake era) it is an elicitation/create request to the client;
//    with the 2.x client pinned to 2026-07-28 it is an input_required result
//    that the client's auto-fulfilment driver answers and retries with
//    inputResponses and the echoed requestState. The same handler answers
//    both, and the tool must see the answer.
//  - logging (1.x): logging/setLevel filters notifications/message.
//  - completion/complete for a prompt argument, in both eras.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { requirePackages, serverParams, tapTransport, waitFor, textOf } from './harness.mjs';

requirePackages(['@modelcontextprotocol/sdk', '@modelcontextprotocol/client']);
const sdk1 = {
  Client: (await import('@modelcontextprotocol/sdk/client/index.js')).Client,
  StdioClientTransport: (await import('@modelcontextprotocol/sdk/client/stdio.js')).StdioClientTransport,
  types: await import('@modelcontextprotocol/sdk/types.js'),
};
const client2 = {
  Client: (await import('@modelcontextprotocol/client')).Client,
  StdioClientTransport: (await import('@modelcontextprotocol/client/stdio')).StdioClientTransport,
};

const asked = []; // elicitation params as the client's handler saw them
function answer(params) {
  asked.push(params);
  return params.message.includes('keep') ? { action: 'decline' } : { action: 'accept', content: { confirm: true } };
}

const closers = [];
after(async () => { for (const close of closers) await close().catch(() => {}); });

async function connectSdk1() {
  const transport = new sdk1.StdioClientTransport(serverParams(['--all-features']));
  const wire = tapTransport(transport);
  const client = new sdk1.Client({ name: 'mcpd-interop-features-1', version: '1.0.0' },
    { capabilities: { elicitation: {} } });
  client.setRequestHandler(sdk1.types.ElicitRequestSchema, (request) => answer(request.params));
  const logs = [];
  client.setNotificationHandler(sdk1.types.LoggingMessageNotificationSchema, (n) => { logs.push(n.params); });
  await client.connect(transport);
  closers.push(() => client.close());
  return { client, wire, logs };
}

async function connectClient2() {
  const transport = new client2.StdioClientTransport(serverParams(['--all-features']));
  const wire = tapTransport(transport);
  const client = new client2.Client({ name: 'mcpd-interop-features-2', version: '2.0.0' },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
  client.setRequestHandler('elicitation/create', (request) => answer(request.params));
  await client.connect(transport);
  closers.push(() => client.close());
  return { client, wire };
}

test('1.x (handshake era): the confirm tool asks by elicitation/create and sees the answer', async () => {
  const { client, wire } = await connectSdk1();
  asked.length = 0;
  let result = await client.callTool({ name: 'confirm', arguments: { action: 'delete the draft' } });
  assert.equal(textOf(result), 'confirmed: delete the draft');
  result = await client.callTool({ name: 'confirm', arguments: { action: 'keep nothing' } });
  assert.equal(textOf(result), 'not confirmed (decline)');
  assert.equal(asked.length, 2);
  assert.equal(asked[0].message, 'Do you want to delete the draft?');
  // A server request on the wire, with an id of the server's.
  const requests = wire.received.filter((m) => m.method === 'elicitation/create');
  assert.equal(requests.length, 2);
  assert.ok(requests.every((m) => m.id !== undefined));
  assert.ok(!wire.received.some((m) => m.result?.resultType === 'input_required'));
});

test('1.x: logging/setLevel filters log messages; completion/complete suggests values', async () => {
  const { client, logs } = await connectSdk1();
  await client.setLoggingLevel('warning');
  await client.callTool({ name: 'log', arguments: { text: 'too quiet', level: 'info' } });
  await client.callTool({ name: 'log', arguments: { text: 'loud enough', level: 'error' } });
  await waitFor(() => logs.length >= 1);
  assert.equal(logs.length, 1, JSON.stringify(logs));
  assert.equal(logs[0].level, 'error');
  assert.ok(JSON.stringify(logs[0].data).includes('loud enough'), JSON.stringify(logs[0]));
  const done = await client.complete({ ref: { type: 'ref/prompt', name: 'review' },
    argument: { name: 'language', value: 'py' } });
  assert.deepEqual(done.completion.values, ['python']);
});

test('2.x pinned to 2026-07-28: the confirm tool ends in input_required, answered and retried', async () => {
  const { client, wire } = await connectClient2();
  asked.length = 0;
  let result = await client.callTool({ name: 'confirm', arguments: { action: 'delete the draft' } });
  assert.equal(textOf(result), 'confirmed: delete the draft');
  result = await client.callTool({ name: 'confirm', arguments: { action: 'keep nothing' } });
  assert.equal(textOf(result), 'not confirmed (decline)');
  assert.equal(asked.length, 2);
  // No server-to-client request in this era: an input_required result,
  // then a retry carrying inputResponses and the requestState it was given.
  assert.ok(!wire.received.some((m) => m.method === 'elicitation/create'));
  const required = wire.received.filter((m) => m.result?.resultType === 'input_required');
  assert.equal(required.length, 2);
  assert.equal(required[0].result.inputRequests.confirm.method, 'elicitation/create');
  const retries = wire.sent.filter((m) => m.method === 'tools/call' && m.params?.inputResponses);
  assert.equal(retries.length, 2);
  assert.equal(retries[0].params.inputResponses.confirm.action, 'accept');
  if (required[0].result.requestState !== undefined) {
    assert.equal(retries[0].params.requestState, required[0].result.requestState);
  }
  const done = await client.complete({ ref: { type: 'ref/prompt', name: 'review' },
    argument: { name: 'language', value: 'py' } });
  assert.deepEqual(done.completion.values, ['python']);
});
