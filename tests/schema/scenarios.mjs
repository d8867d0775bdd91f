// The scripted conversations: every method of each protocol version, inputs
// that must fail, framing and id edges, and (2025-03-26) batches. What the
// server writes back is checked by Conversation (conversation.mjs).
import {
  Conversation, EXTRA_TOOLS, FEATURE_TOOLS, MODERN_META, PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND,
  INVALID_PARAMS, RESOURCE_NOT_FOUND, UNSUPPORTED_VERSION,
} from './conversation.mjs';
import {
  handshakeFeatures, modernFeatures, featureKinds, answerAndRetry, resultText,
} from './features.mjs';

const DEMO_TOOLS = ['echo', 'add', 'slow'];

// Methods every version has, after the era's own opening.
async function commonMethods(c, caps) {
  // Resource not found: -32002 until 2025-11-25; 2026-07-28 moved it to
  // -32602 (a MUST).
  const unknownResource = c.modern ? INVALID_PARAMS : RESOURCE_NOT_FOUND;
  // Arguments that break the inputSchema: 2025-11-25 and later want a tool
  // result with isError (so a model can correct itself); the earlier
  // revisions list "invalid arguments" among protocol errors (-32602).
  const badArguments = c.version >= '2025-11-25' ? { isError: true } : { either: [INVALID_PARAMS], isError: true };

  // tools/list, every page.
  const names = [];
  let cursor;
  for (let page = 0; page < 20; page++) {
    const reply = await c.request('tools/list', cursor === undefined ? {} : { cursor });
    if (!reply?.result) break;
    names.push(...(reply.result.tools ?? []).map((t) => t.name));
    cursor = reply.result.nextCursor;
    if (cursor === undefined) break;
  }
  const expected = DEMO_TOOLS.length + EXTRA_TOOLS + (c.allFeatures ? FEATURE_TOOLS : 0);
  if (names.length !== expected) c.problem(`tools/list pages held ${names.length} tools, expected ${expected}`);
  await c.request('tools/list', { cursor: 'never-issued' }, { error: INVALID_PARAMS });

  // tools/call: results, tool-level errors and protocol errors.
  await c.request('tools/call', { name: 'echo', arguments: { text: 'schema ✓' } });
  await c.request('tools/call', { name: 'add', arguments: { a: 1.25, b: 2 } });
  await c.request('tools/call', { name: 'echo', arguments: { text: 7 } }, badArguments);
  await c.request('tools/call', { name: 'add', arguments: { a: 1 } }, badArguments);
  await c.request('tools/call', { name: 'no-such-tool', arguments: {} }, { error: INVALID_PARAMS });
  await c.request('tools/call', { arguments: {} }, { error: INVALID_PARAMS });

  // Progress: every notification must carry the token of this request.
  c.progressTokens.add(JSON.stringify('progress-1'));
  await c.request('tools/call', { name: 'slow', arguments: { steps: 3, delay_ms: 10 } }, { meta: { progressToken: 'progress-1' } });

  // Cancellation: after two progress notifications, cancel. The spec says
  // the server SHOULD NOT answer; if it does, the answer is still validated.
  c.progressTokens.add(JSON.stringify(42));
  const twoProgress = waitProgress(c.peer, 42, 2);
  const id = c.nextId;
  const cancelled = c.request('tools/call', { name: 'slow', arguments: { steps: 40, delay_ms: 10 } },
    { meta: { progressToken: 42 }, optional: true, either: true, timeoutMs: 800 });
  await twoProgress;
  c.notify('notifications/cancelled', { requestId: id % 2 ? id : `req-${id}`, reason: 'schema test cancels' });
  await cancelled;

  // Resources and templates.
  await c.request('resources/list');
  await c.request('resources/templates/list');
  await c.request('resources/read', { uri: 'mcpd://demo/readme' });
  await c.request('resources/read', { uri: 'mcpd://demo/greeting/Schema' });
  await c.request('resources/read', { uri: 'mcpd://demo/absent' }, { error: unknownResource });
  await c.request('resources/read', {}, { error: INVALID_PARAMS });

  // Prompts.
  await c.request('prompts/list');
  await c.request('prompts/get', { name: 'review', arguments: { code: 'x = 1' } });
  await c.request('prompts/get', { name: 'review', arguments: {} }, { error: INVALID_PARAMS });
  await c.request('prompts/get', { name: 'no-such-prompt' }, { error: INVALID_PARAMS });

  // Optional capabilities, exercised when advertised.
  if (caps?.completions) {
    await c.request('completion/complete', { ref: { type: 'ref/prompt', name: 'review' }, argument: { name: 'code', value: 'x' } });
    await c.request('completion/complete', { ref: { type: 'ref/resource', uri: 'mcpd://demo/greeting/{name}' }, argument: { name: 'name', value: 'A' } });
  }
  if (caps?.logging && !c.modern) await c.request('logging/setLevel', { level: 'warning' });
  if (caps?.resources?.subscribe && !c.modern) {
    await c.request('resources/subscribe', { uri: 'mcpd://demo/readme' });
    await c.request('resources/unsubscribe', { uri: 'mcpd://demo/readme' });
  }

  // Requests that must fail.
  await c.request('mcpd/no-such-method', {}, { error: METHOD_NOT_FOUND });
  await c.request('tools/call', 'not-an-object', { error: [INVALID_PARAMS, INVALID_REQUEST], bare: true });
  await c.raw('{"jsonrpc":"2.0","id":1,', undefined, { error: PARSE_ERROR });
  await c.raw('[}', undefined, { error: PARSE_ERROR });
  await c.raw('{"jsonrpc":"1.0","id":"old-jsonrpc","method":"tools/list"}', 'old-jsonrpc', { error: INVALID_REQUEST });
  await c.raw('{"jsonrpc":"2.0","id":"numeric-method","method":5}', 'numeric-method', { error: INVALID_REQUEST });
  await c.raw('"just a string"', undefined, { error: INVALID_REQUEST });
  await c.raw('{"jsonrpc":"2.0","id":{"an":"object"},"method":"tools/list"}', undefined, { error: INVALID_REQUEST });
}

// Framing and envelope edges: every one must get exactly the answer JSON-RPC
// names, and nothing at all where it names none.
async function edgeCases(c) {
  const probe = c.modern ? 'tools/list' : 'ping';
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // One message split over three writes, with pauses between them.
  const split = JSON.stringify(c.message('split-write', probe));
  let reply = c.peer.reply('split-write');
  c.peer.writeBytes(split.slice(0, 7));
  await sleep(30);
  c.peer.writeBytes(split.slice(7, 20));
  await sleep(30);
  c.peer.writeBytes(split.slice(20) + '\n');
  c.settle(await reply, { method: probe, id: 'split-write' });

  // Two messages in one write; CRLF line ending; blank lines between.
  const both = [c.peer.reply('pair-1'), c.peer.reply('pair-2')];
  c.peer.writeBytes(`${JSON.stringify(c.message('pair-1', probe))}\n\n  \n${JSON.stringify(c.message('pair-2', probe))}\r\n`);
  const [p1, p2] = await Promise.all(both);
  c.settle(p1, { method: probe, id: 'pair-1' });
  c.settle(p2, { method: probe, id: 'pair-2' });

  // Notifications never get a reply: unknown method, cancel for an id never
  // sent, progress from the client for a token nobody issued.
  c.notify('notifications/mcpd-unknown', { x: 1 });
  c.notify('notifications/cancelled', { requestId: 'never-sent' });
  c.notify('notifications/cancelled', { requestId: 'not-an-id', reason: 5 });

  // Ids at the edges of what JSON-RPC allows come back unchanged.
  for (const [text, label] of [['0', 'zero'], ['-7', 'negative'], ['""', 'empty string'], ['9007199254740993', '2^53+1']]) {
    const wire = JSON.stringify(c.message('__ID__', probe)).replace('"__ID__"', text);
    const got = c.expectRaw(text, probe, { note: `id ${label}` });
    c.peer.writeRaw(wire);
    await got;
  }

  // Nesting deeper than the parser's limit, and a line over the message
  // size limit: each is answered with an error, and the session goes on.
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  await c.raw(`{"jsonrpc":"2.0","id":"deep","method":"${probe}","params":{"x":${deep}}}`, 'deep', { error: true });
  const huge = 'x'.repeat(5 * 1024 * 1024);
  await c.raw(`{"jsonrpc":"2.0","id":"huge","method":"tools/call","params":{"name":"echo","arguments":{"text":"${huge}"}}}`,
    'huge', { error: true });
  // Bytes that are not UTF-8 are not JSON text (RFC 8259 section 8.1).
  reply = c.peer.next((m) => m && !('method' in m) && (m.id === null || m.id === 'latin1'));
  c.peer.writeBytes(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":"latin1","method":"tools/call","params":{"name":"echo","arguments":{"text":"caf'),
    Buffer.from([0xe9]), Buffer.from('"}}}\n')]));
  c.settle(await reply, { method: '(invalid UTF-8)', id: 'latin1', error: [PARSE_ERROR, INVALID_REQUEST] });
  // Escaped astral characters survive the round trip.
  const astral = await c.request('tools/call', { name: 'echo', arguments: { text: 'emoji \ud83d\ude00 and \u00e9' } });
  const echoed = astral?.result?.content?.[0]?.text;
  if (astral?.result && echoed !== 'emoji \ud83d\ude00 and \u00e9') c.problem(`echo of astral text came back as ${JSON.stringify(echoed)}`);

  // 100 requests in one write: each answered once, with its own text.
  const pipelined = [];
  let batchText = '';
  for (let i = 0; i < 100; i++) {
    const id = `pipe-${i}`;
    pipelined.push(c.peer.reply(id).then((m) => {
      c.settle(m, { method: 'tools/call', id });
      if (m?.result && m.result.content?.[0]?.text !== `line ${i}`) c.problem(`${id} answered with ${JSON.stringify(m.result)}`);
    }));
    batchText += JSON.stringify(c.message(id, 'tools/call', { name: 'echo', arguments: { text: `line ${i}` } })) + '\n';
  }
  c.peer.writeBytes(batchText);
  await Promise.all(pipelined);

  // Two slow calls at once; cancelling one leaves the other to finish, and
  // every progress notification names the token of its own call.
  for (const token of ['left', 'right']) c.progressTokens.add(JSON.stringify(token));
  const leftId = c.nextId;
  const left = c.request('tools/call', { name: 'slow', arguments: { steps: 30, delay_ms: 20 } },
    { meta: { progressToken: 'left' }, optional: true, either: true, timeoutMs: 900 });
  const right = c.request('tools/call', { name: 'slow', arguments: { steps: 6, delay_ms: 20 } },
    { meta: { progressToken: 'right' } });
  await waitProgress(c.peer, 'left', 2);
  c.notify('notifications/cancelled', { requestId: leftId % 2 ? leftId : `req-${leftId}` });
  const rightReply = await right;
  if (rightReply && !rightReply.result) c.problem(`the uncancelled slow call failed: ${JSON.stringify(rightReply)}`);
  await left;

  // Still serving after all of the above.
  await c.request(probe);
}

// 2025-03-26 is the one version with JSON-RPC batches: one array in, one
// array out, holding a response per request and none per notification.
async function batches(c) {
  // members may carry `expect` (stripped before sending); `unreadable`
  // counts members that are not objects, each answered with id null.
  const send = async (label, members, unreadable = 0) => {
    const wire = members.map((m) => {
      if (!m || typeof m !== 'object') return m;
      const { expect, ...rest } = m;
      return rest;
    });
    const reply = c.peer.next((m) => Array.isArray(m));
    c.peer.writeRaw(JSON.stringify(wire));
    const got = await reply;
    if (!got) {
      c.problem(`batch ${label}: no array reply`);
      return;
    }
    const requests = members.filter((m) => m && typeof m === 'object' && 'id' in m);
    c.expectations.set(got, {
      method: `batch ${label}`,
      size: requests.length + unreadable,
      members: new Map(requests.map((m) => [JSON.stringify(m.id), { method: m.method, id: m.id, ...m.expect }])),
    });
  };
  await send('of requests and a notification', [
    { jsonrpc: '2.0', id: 'batch-a', method: 'ping' },
    { jsonrpc: '2.0', id: 'batch-b', method: 'tools/list' },
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'never-sent' } },
    { jsonrpc: '2.0', id: 'batch-c', method: 'tools/call', params: { name: 'echo', arguments: { text: 'in a batch' } } },
    { jsonrpc: '2.0', id: 'batch-d', method: 'mcpd/nope', expect: { error: METHOD_NOT_FOUND } },
  ]);
  await send('of two non-objects', [1, 2], 2);
  // Only notifications: JSON-RPC returns nothing at all.
  c.peer.writeRaw(JSON.stringify([{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'x' } }]));
  await c.raw('[]', undefined, { error: INVALID_REQUEST });
}

function waitProgress(peer, token, count) {
  let seen = 0;
  return peer.next((m) => m?.method === 'notifications/progress' && m.params?.progressToken === token && ++seen >= count, 3000);
}

// Definitions every conversation with the demo catalog must have matched.
const CATALOG_KINDS = ['ListToolsResult', 'CallToolResult', 'ListResourcesResult', 'ListResourceTemplatesResult',
  'ReadResourceResult', 'ListPromptsResult', 'GetPromptResult', 'CompleteResult', 'ProgressNotification'];

const SERVE_ARGS = ['serve', '--stdio', '--extra-tools', String(EXTRA_TOOLS)];

// What a client of this version can declare: elicitation exists from
// 2025-06-18 on.
function clientCapabilities(schema) {
  const caps = { sampling: {}, roots: { listChanged: true } };
  if (schema.has('ElicitRequest')) caps.elicitation = {};
  return caps;
}

function conversation({ bin, version, schema, modern, allFeatures, capabilities, known }) {
  const c = new Conversation({
    bin, version, schema, modern, known,
    args: allFeatures ? [...SERVE_ARGS, '--all-features'] : SERVE_ARGS,
    capabilities: capabilities ?? (allFeatures ? clientCapabilities(schema) : {}),
  });
  c.allFeatures = allFeatures;
  return c;
}

async function initialize(c) {
  const init = await c.request('initialize', {
    protocolVersion: c.version,
    capabilities: c.capabilities,
    clientInfo: { name: 'mcpd-schema-test', version: '1.0.0' },
  });
  if (init?.result && init.result.protocolVersion !== c.version) {
    c.problem(`initialize asked for ${c.version}, server answered ${init.result.protocolVersion}`);
  }
  c.notify('notifications/initialized');
  return init?.result;
}

// allFeatures: serve with --all-features, declare every client capability
// the version has, and run the feature scripts (features.mjs).
export async function runHandshake({ bin, version, schema, allFeatures = false }) {
  const c = conversation({ bin, version, schema, modern: false, allFeatures });
  const init = await initialize(c);
  await c.request('ping');
  await c.request('ping', undefined, { bare: true });
  await commonMethods(c, init?.capabilities);
  if (allFeatures) await handshakeFeatures(c);
  await edgeCases(c);
  await c.request('initialize', { protocolVersion: version, capabilities: {}, clientInfo: { name: 'again', version: '1' } },
    { error: true });

  if (schema.has('JSONRPCBatchRequest')) {
    await batches(c);
  } else {
    await c.raw('[{"jsonrpc":"2.0","id":"in-batch","method":"ping"}]', undefined, { error: INVALID_REQUEST });
  }
  inputEndsMidCall(c);
  return c.finish(['InitializeResult', 'EmptyResult', ...CATALOG_KINDS, ...(allFeatures ? featureKinds(c) : [])]);
}

// A client of a version without elicitation that declares it anyway: the
// server must not send a request kind its negotiated version lacks.
export async function runUndefinedKinds({ bin, version, schema }) {
  const known = [];
  const c = conversation({
    bin, version, schema, modern: false, allFeatures: true, known,
    capabilities: { ...clientCapabilities(schema), elicitation: {} },
  });
  await initialize(c);
  await c.request('tools/call', { name: 'confirm', arguments: { action: 'probe' } }, { either: true });
  return c.finish();
}

// The last request is still running when stdin closes: the server may finish
// it or drop it, but must then exit cleanly (finish() checks the exit).
function inputEndsMidCall(c) {
  c.request('tools/call', { name: 'slow', arguments: { steps: 20, delay_ms: 20 } }, { optional: true, either: true, timeoutMs: 3000 });
}

export async function runModern({ bin, version, schema, allFeatures = false }) {
  const c = conversation({ bin, version, schema, modern: true, allFeatures });
  const discover = await c.request('server/discover');
  const result = discover?.result;
  if (result && !result.supportedVersions?.includes(version)) {
    c.problem(`server/discover supportedVersions ${JSON.stringify(result.supportedVersions)} lacks ${version}`);
  }
  await commonMethods(c, result?.capabilities);
  if (allFeatures) await modernFeatures(c);
  await edgeCases(c);

  // What the modern era removed or requires.
  await c.request('ping', {}, { error: METHOD_NOT_FOUND });
  await c.request('tools/list', {}, { meta: { [MODERN_META.protocolVersion]: '2099-01-01' }, error: UNSUPPORTED_VERSION });
  await c.request('tools/list', { _meta: { [MODERN_META.protocolVersion]: version } },
    { bare: true, error: [INVALID_PARAMS, INVALID_REQUEST] });
  await c.raw('[{"jsonrpc":"2.0","id":"in-batch","method":"tools/list"}]', undefined, { error: INVALID_REQUEST });
  inputEndsMidCall(c);
  return c.finish(['DiscoverResult', 'UnsupportedProtocolVersionError', ...CATALOG_KINDS,
    ...(allFeatures ? featureKinds(c) : [])]);
}

// The schema suite's fixture server (fixture_server.c) makes libmcp write
// what the demo catalog never does: sampling/createMessage, roots/list and
// ping requests (input requests in the modern era), list_changed,
// resources/updated, server-wide log messages, and the result that ends a
// subscriptions/listen stream when the server shuts down.
export async function runFixture({ bin, version, schema }) {
  const modern = version === '2026-07-28';
  const known = [];
  const c = new Conversation({ bin, args: [], version, schema, modern, capabilities: clientCapabilities(schema), known });
  const kinds = ['CreateMessageRequest', 'ListRootsRequest', 'ToolListChangedNotification', 'PromptListChangedNotification',
    'ResourceListChangedNotification', 'ResourceUpdatedNotification'];
  if (modern) {
    const id = c.nextId;
    const acknowledged = c.peer.next((m) => m?.method === 'notifications/subscriptions/acknowledged');
    // Open until the server ends it at end of input, with its result.
    c.request('subscriptions/listen', { notifications: { toolsListChanged: true, promptsListChanged: true,
      resourcesListChanged: true, resourceSubscriptions: ['fixture://doc'] } }, { timeoutMs: 20000 });
    if (!await acknowledged) c.problem(`subscriptions/listen (id ${id}): no acknowledgement`);
    kinds.push('InputRequiredResult', 'InputRequest', 'SubscriptionsAcknowledgedNotification', 'SubscriptionsListenResult');
  } else {
    await initialize(c);
    await c.request('resources/subscribe', { uri: 'fixture://doc' });
    kinds.push('PingRequest', 'LoggingMessageNotification', 'EmptyResult');
  }

  const call = async (name, text) => {
    const params = { name, arguments: {} };
    let reply = await c.request('tools/call', params, { inputRequired: modern });
    if (modern) reply = await answerAndRetry(c, 'tools/call', params, reply);
    if (reply?.result && resultText(reply) !== text) c.problem(`${name} answered ${JSON.stringify(reply.result)}`);
  };
  await call('sample', 'the model said: sampled by the schema test');
  await call('roots', '1 roots');

  const pinged = c.peer.next((m) => m?.method === 'ping' && 'id' in m);
  await c.request('tools/call', { name: 'ping_client', arguments: {} });
  if (!modern && !await pinged) c.problem('ping_client: the server sent no ping');

  // Every change is announced after the call's result; the resource read
  // after it shows the new version.
  const announced = c.peer.next((m) => m?.method === 'notifications/resources/updated');
  await c.request('tools/call', { name: 'change', arguments: {} });
  if (!await announced) c.problem('change: no notifications/resources/updated');
  const list = await c.request('tools/list');
  if (list?.result && !list.result.tools.some((t) => t.name === 'added_1')) c.problem('tools/list after change lacks added_1');
  await c.request('resources/read', { uri: 'fixture://doc' });

  if (!modern) {
    // Unsubscribed, and logging above the fixture's warning: the second
    // change brings list_changed only.
    await c.request('resources/unsubscribe', { uri: 'fixture://doc' });
    await c.request('logging/setLevel', { level: 'error' });
    const listed = c.peer.next((m) => m?.method === 'notifications/tools/list_changed');
    await c.request('tools/call', { name: 'change', arguments: {} });
    await listed;
    await c.request('ping');
    const count = (method) => c.peer.lines.filter((l) => l.message?.method === method).length;
    if (count('notifications/resources/updated') !== 1) c.problem('resources/updated sent after resources/unsubscribe');
    if (count('notifications/message') !== 1) c.problem('a warning was logged after logging/setLevel error');
  }
  return c.finish(kinds);
}
