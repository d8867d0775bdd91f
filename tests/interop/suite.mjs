// The checks both SDK generations run against `mcpd serve --stdio`. Each
// test file supplies an adapter that hides the API differences between the
// 1.x and 2.x clients (connect options, the callTool signature, how list
// pagination is exposed); everything asserted here is protocol behaviour the
// spec fixes for every era.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EXTRA_TOOLS, DEMO_TOOLS, rejection, sleep, textOf } from './harness.mjs';

// JSON-RPC / MCP error codes the assertions name.
export const INVALID_PARAMS = -32602;
export const METHOD_NOT_FOUND = -32601;
export const RESOURCE_NOT_FOUND = -32002;

// adapter: {
//   connect(): Promise<{ client, wire, close() }>   (server spawned with --extra-tools EXTRA_TOOLS)
//   callTool(client, params, options): Promise<CallToolResult>
//   listToolsPage(client, cursor): Promise<ListToolsResult>   (one page, raw)
//   resourceNotFoundCodes: codes accepted for an unknown resource URI
//   cancelsByClosingStream: true where aborting a call closes its HTTP
//     stream instead of sending notifications/cancelled (2026-07-28 HTTP),
//     with streamClosed(request) telling whether that request's was closed
// }
export function interopSuite(adapter) {
  let conn;
  const ctx = {};

  before(async () => {
    conn = await adapter.connect();
    ctx.client = conn.client;
    ctx.wire = conn.wire;
    ctx.transport = conn.transport;
  });

  after(async () => {
    if (conn) await conn.close();
    // mcpd logs to stderr only when something is off; show it beside the results.
    if (conn?.wire.stderr) process.stderr.write(`--- mcpd stderr ---\n${conn.wire.stderr}\n`);
  });

  test('tools/list walks every page by cursor and the count matches the catalog', async () => {
    const names = [];
    const pageSizes = [];
    let cursor;
    let pages = 0;
    do {
      const page = await adapter.listToolsPage(ctx.client, cursor);
      pages++;
      assert.ok(pages <= 20, 'pagination does not converge');
      pageSizes.push(page.tools.length);
      for (const tool of page.tools) names.push(tool.name);
      cursor = page.nextCursor;
    } while (cursor !== undefined);

    assert.equal(names.length, DEMO_TOOLS.length + EXTRA_TOOLS, `tool count (page sizes ${pageSizes})`);
    assert.equal(new Set(names).size, names.length, 'a tool appears on two pages');
    for (const name of DEMO_TOOLS) assert.ok(names.includes(name), `${name} listed`);
    assert.ok(pages >= 3, `expected at least 3 pages for ${names.length} tools, got ${pages}`);
    for (const size of pageSizes.slice(0, -1)) assert.equal(size, 50, 'full pages hold the default page size');

    const firstPage = await adapter.listToolsPage(ctx.client, undefined);
    const echo = firstPage.tools.find((t) => t.name === 'echo') ??
      (await collectTools(adapter, ctx.client)).find((t) => t.name === 'echo');
    assert.equal(echo.inputSchema.type, 'object');
    assert.deepEqual(echo.inputSchema.required, ['text']);
  });

  test('tools/list with a cursor the server never issued is rejected with -32602', async () => {
    const err = await rejection(() => adapter.listToolsPage(ctx.client, 'not-a-cursor-mcpd-issued'));
    assert.equal(err.code, INVALID_PARAMS, String(err));
  });

  test('echo returns the text it was given, byte for byte', async () => {
    const text = 'héllo ✓ "quoted" \\ back\nslash \u0001 end';
    const result = await adapter.callTool(ctx.client, { name: 'echo', arguments: { text } });
    assert.notEqual(result.isError, true);
    assert.equal(textOf(result), text);
  });

  test('add returns text and structuredContent matching its outputSchema', async () => {
    const tools = await collectTools(adapter, ctx.client);
    const add = tools.find((t) => t.name === 'add');
    assert.ok(add.outputSchema, 'add declares an outputSchema');
    assert.equal(add.outputSchema.type, 'object');
    assert.ok('sum' in (add.outputSchema.properties ?? {}), 'outputSchema names sum');

    const result = await adapter.callTool(ctx.client, { name: 'add', arguments: { a: 2, b: 3.5 } });
    assert.notEqual(result.isError, true);
    assert.deepEqual(result.structuredContent, { sum: 5.5 });
    assert.match(textOf(result), /5\.5/);

    const negative = await adapter.callTool(ctx.client, { name: 'add', arguments: { a: -1e3, b: 1 } });
    assert.deepEqual(negative.structuredContent, { sum: -999 });
  });

  test('add whose sum overflows a double reports a tool error, not a protocol error', async () => {
    // 1e308 + 1e308 is Infinity, which JSON cannot carry. The failure
    // originates in the tool, so the spec asks for a result with isError
    // (CallToolResult.isError: "Any errors that originate from the tool
    // SHOULD be reported inside the result object").
    const outcome = await adapter.callTool(ctx.client, { name: 'add', arguments: { a: 1e308, b: 1e308 } })
      .catch((err) => err);
    assert.ok(!(outcome instanceof Error), `protocol error instead of a tool error: ${outcome}`);
    assert.equal(outcome.isError, true, JSON.stringify(outcome));
  });

  test('a call whose arguments break the inputSchema is a tool result with isError', async () => {
    // Both peers speak 2025-11-25 or later, where input validation failures
    // are tool execution errors (isError: true, so a model can correct
    // itself), not protocol errors.
    const calls = [
      { name: 'echo', arguments: { text: 42 } },
      { name: 'echo', arguments: {} },
      { name: 'add', arguments: { a: 'two', b: 3 } },
    ];
    for (const params of calls) {
      const outcome = await adapter.callTool(ctx.client, params);
      assert.equal(outcome.isError, true, `${JSON.stringify(params)} should fail, got ${JSON.stringify(outcome)}`);
      assert.ok(textOf(outcome).length > 0, 'the error result explains itself');
    }
  });

  test('an unknown tool is a protocol error -32602', async () => {
    const err = await rejection(() => adapter.callTool(ctx.client, { name: 'no-such-tool', arguments: {} }));
    assert.equal(err.code, INVALID_PARAMS, String(err));
  });

  test('resources: list, read the static resource, read an unknown URI', async () => {
    const { resources } = await ctx.client.listResources();
    const readme = resources.find((r) => r.uri === 'mcpd://demo/readme');
    assert.ok(readme, `readme listed in ${JSON.stringify(resources.map((r) => r.uri))}`);
    assert.equal(typeof readme.name, 'string');

    const read = await ctx.client.readResource({ uri: 'mcpd://demo/readme' });
    assert.equal(read.contents.length, 1);
    assert.equal(read.contents[0].uri, 'mcpd://demo/readme');
    assert.ok(read.contents[0].text.length > 0, 'readme has text');

    const err = await rejection(() => ctx.client.readResource({ uri: 'mcpd://demo/no-such-thing' }));
    assert.ok(adapter.resourceNotFoundCodes.includes(err.code), `unknown resource code ${err.code}: ${err}`);
  });

  test('resource templates: list, then read a URI the template expands to', async () => {
    const { resourceTemplates } = await ctx.client.listResourceTemplates();
    const greeting = resourceTemplates.find((t) => t.uriTemplate === 'mcpd://demo/greeting/{name}');
    assert.ok(greeting, `greeting template listed in ${JSON.stringify(resourceTemplates)}`);

    for (const name of ['Ada', 'Grace']) {
      const uri = `mcpd://demo/greeting/${name}`;
      const read = await ctx.client.readResource({ uri });
      assert.equal(read.contents.length, 1);
      assert.equal(read.contents[0].uri, uri);
      assert.match(read.contents[0].text, new RegExp(name));
    }
  });

  test('prompts: list, get with the required argument, get without it', async () => {
    const { prompts } = await ctx.client.listPrompts();
    const review = prompts.find((p) => p.name === 'review');
    assert.ok(review, 'review prompt listed');
    const code = review.arguments.find((a) => a.name === 'code');
    assert.equal(code?.required, true);

    const snippet = 'int main(void) { return 0; }';
    const got = await ctx.client.getPrompt({ name: 'review', arguments: { code: snippet } });
    assert.ok(got.messages.length >= 1);
    const texts = got.messages.filter((m) => m.content.type === 'text').map((m) => m.content.text).join('\n');
    assert.ok(texts.includes(snippet), `prompt text carries the code: ${texts}`);
    for (const m of got.messages) assert.ok(['user', 'assistant'].includes(m.role));

    const missing = await rejection(() => ctx.client.getPrompt({ name: 'review', arguments: {} }));
    assert.equal(missing.code, INVALID_PARAMS, String(missing));
    const unknown = await rejection(() => ctx.client.getPrompt({ name: 'no-such-prompt', arguments: {} }));
    assert.equal(unknown.code, INVALID_PARAMS, String(unknown));
  });

  test('slow emits increasing progress notifications to onprogress', async () => {
    const steps = 5;
    const seen = [];
    const result = await adapter.callTool(ctx.client, { name: 'slow', arguments: { steps, delay_ms: 20 } },
      { onprogress: (p) => seen.push(p) });
    assert.notEqual(result.isError, true);
    assert.ok(seen.length >= steps - 1 && seen.length <= steps + 1,
      `expected about one progress notification per step, got ${JSON.stringify(seen)}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].progress > seen[i - 1].progress, 'progress increases');
    for (const p of seen) if (p.total !== undefined) assert.ok(p.progress <= p.total, 'progress never exceeds total');
  });

  test('aborting slow sends notifications/cancelled and the server stops the work', async () => {
    const controller = new AbortController();
    let progressCount = 0;
    const started = Date.now();
    const call = adapter.callTool(ctx.client, { name: 'slow', arguments: { steps: 40, delay_ms: 50 } }, {
      signal: controller.signal,
      onprogress: () => {
        if (++progressCount === 2) controller.abort('test cancels slow');
      },
    });
    await rejection(() => call);
    assert.ok(Date.now() - started < 1500, 'the call ended at the abort, not after all 40 steps');

    const request = ctx.wire.sent.filter((m) => m.method === 'tools/call' && m.params?.name === 'slow').at(-1);
    const cancelled = ctx.wire.sent.find((m) => m.method === 'notifications/cancelled' && m.params?.requestId === request.id);
    if (adapter.cancelsByClosingStream) {
      // 2026-07-28 over HTTP: closing the request's own stream is the
      // cancellation; the client sends no notification.
      assert.equal(cancelled, undefined, 'no notifications/cancelled where closing the stream cancels');
      assert.ok(adapter.streamClosed(request), 'the client closed the slow request\'s stream');
    } else {
      assert.ok(cancelled, 'the client sent notifications/cancelled for the slow request');
    }

    // 10 steps' worth of time: a server that honours cancellation stops
    // sending progress for this token and sends no response for the request
    // (the spec says it SHOULD NOT respond to a cancelled request).
    const token = request.params._meta.progressToken;
    const mark = ctx.wire.received.length;
    await sleep(500);
    const late = ctx.wire.received.slice(mark);
    const lateProgress = late.filter((m) => m.method === 'notifications/progress' && m.params.progressToken === token);
    assert.ok(lateProgress.length <= 1, `progress kept coming after cancellation: ${lateProgress.length} notifications`);
    const lateResponse = ctx.wire.received.filter((m) => !('method' in m) && m.id === request.id);
    assert.equal(lateResponse.length, 0, `server answered the cancelled request: ${JSON.stringify(lateResponse)}`);

    // The session is not wedged: a new call completes.
    const after = await adapter.callTool(ctx.client, { name: 'echo', arguments: { text: 'still here' } });
    assert.equal(textOf(after), 'still here');
  });

  return ctx;
}

export async function collectTools(adapter, client) {
  const tools = [];
  let cursor;
  do {
    const page = await adapter.listToolsPage(client, cursor);
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return tools;
}
