// The catalog of the TypeScript SDK peer that mcpd call drives in the
// client tests: tools (text, structured, progress, errors, requests back to
// the client, logging, list changes, a task), resources, a template and
// prompts. sdk_server.mjs serves one over stdio, sdk_http_server.mjs one per
// session over Streamable HTTP.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export function buildServer() {
  const server = new McpServer({ name: 'sdk-peer', version: '1.0.0' }, {
    capabilities: {
      logging: {},
      resources: { subscribe: true, listChanged: true },
      tools: { listChanged: true },
      tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
    },
    taskStore: new InMemoryTaskStore(),
  });

  server.registerTool('greet', {
    description: 'Greets someone by name.',
    inputSchema: { name: z.string() },
  }, async ({ name }) => ({ content: [{ type: 'text', text: `Hello, ${name}!` }] }));

  server.registerTool('multiply', {
    description: 'Multiplies two numbers; the product is also structured content.',
    inputSchema: { a: z.number(), b: z.number() },
    outputSchema: { product: z.number() },
  }, async ({ a, b }) => ({
    content: [{ type: 'text', text: `${a} * ${b} = ${a * b}` }],
    structuredContent: { product: a * b },
  }));

  // Sends one progress notification per step when the request asked for it.
  server.registerTool('countdown', {
    description: 'Counts down from n, reporting progress, then says liftoff.',
    inputSchema: { n: z.number().int().min(1).max(20) },
  }, async ({ n }, extra) => {
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= n; i++) {
      await new Promise((done) => setTimeout(done, 10));
      if (token !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: i, total: n, message: `${n - i} left` },
        });
      }
    }
    return { content: [{ type: 'text', text: 'liftoff' }] };
  });

  server.registerTool('fail', {
    description: 'Always reports a tool error.',
    inputSchema: {},
  }, async () => ({ isError: true, content: [{ type: 'text', text: 'this tool always fails' }] }));

  server.registerResource('notes', 'sdk://notes', {
    description: 'A fixed text resource.',
    mimeType: 'text/plain',
  }, async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'remember the milk' }] }));

  server.registerResource('user', new ResourceTemplate('sdk://users/{id}', { list: undefined }), {
    description: 'A user record by id.',
    mimeType: 'application/json',
  }, async (uri, { id }) => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ id, name: `user-${id}` }) }],
  }));

  server.registerPrompt('summarize', {
    description: 'Asks for a summary of a text.',
    argsSchema: { text: z.string() },
  }, ({ text }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Summarize this:\n\n${text}` } }],
  }));

  // Its language argument completes (completion/complete).
  server.registerPrompt('translate', {
    description: 'Asks for a translation.',
    argsSchema: {
      language: completable(z.string(), (value) =>
        ['english', 'esperanto', 'estonian', 'french'].filter((l) => l.startsWith(value))),
    },
  }, ({ language }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Translate into ${language}.` } }],
  }));

  // ---- Requests from this server to the client under test --------------------

  server.registerTool('ask_model', {
    description: 'Asks the client to sample a reply from its model (sampling/createMessage).',
    inputSchema: { question: z.string() },
  }, async ({ question }) => {
    const reply = await server.server.createMessage({
      messages: [{ role: 'user', content: { type: 'text', text: question } }],
      maxTokens: 50,
    });
    return { content: [{ type: 'text', text: `model ${reply.model} said: ${reply.content.text}` }] };
  });

  server.registerTool('ask_user', {
    description: 'Asks the client for a user name (elicitation/create, form mode).',
    inputSchema: {},
  }, async () => {
    const answer = await server.server.elicitInput({
      mode: 'form',
      message: 'Who are you?',
      requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    });
    const who = answer.action === 'accept' ? answer.content.name : `(${answer.action})`;
    return { content: [{ type: 'text', text: `hello ${who}` }] };
  });

  server.registerTool('show_roots', {
    description: 'Lists the client roots (roots/list).',
    inputSchema: {},
  }, async () => {
    const { roots } = await server.server.listRoots();
    return { content: [{ type: 'text', text: roots.map((r) => r.uri).join(' ') }] };
  });

  // One message per level; the SDK drops those below the level the client set.
  server.registerTool('chatter', {
    description: 'Logs one message at each of debug, info and warning.',
    inputSchema: {},
  }, async () => {
    for (const level of ['debug', 'info', 'warning']) {
      await server.sendLoggingMessage({ level, logger: 'chatter', data: `a ${level} message` });
    }
    return { content: [{ type: 'text', text: 'logged' }] };
  });

  // A tool registered later: the SDK announces notifications/tools/list_changed.
  server.registerTool('grow', {
    description: 'Registers one more tool, so the tool list changes.',
    inputSchema: {},
  }, async () => {
    const name = `grown_${Date.now()}`;
    server.registerTool(name, { description: 'grown', inputSchema: {} }, async () => ({ content: [] }));
    return { content: [{ type: 'text', text: name }] };
  });

  // Resource subscriptions: the subscribed resource "changes" shortly after.
  const subscribed = new Set();
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    subscribed.add(request.params.uri);
    setTimeout(() => {
      if (subscribed.has(request.params.uri)) server.server.sendResourceUpdated({ uri: request.params.uri });
    }, 50);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });

  // A tool that runs as a task (2025-11-25): the result comes after a delay,
  // fetched by tasks/get polling and tasks/result.
  server.experimental.tasks.registerToolTask('brew', {
    description: 'Brews for ms milliseconds as a task.',
    inputSchema: { ms: z.number().int().min(0).max(5000) },
    execution: { taskSupport: 'optional' },
  }, {
    createTask: async ({ ms }, extra) => {
      const task = await extra.taskStore.createTask({ ttl: 60000, pollInterval: 20 });
      setTimeout(() => {
        extra.taskStore.storeTaskResult(task.taskId, 'completed', {
          content: [{ type: 'text', text: `brewed for ${ms} ms` }],
        });
      }, ms);
      return { task };
    },
    getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
    getTaskResult: async (_args, extra) => extra.taskStore.getTaskResult(extra.taskId),
  });
  return server;
}
