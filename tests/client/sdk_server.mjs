// A small MCP server written with the official TypeScript SDK (1.x, pinned
// in package-lock.json), served over stdio. `mcpd call` drives it in
// call.test.mjs, so the peer on the other end is not our own code.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'sdk-peer', version: '1.0.0' });

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

await server.connect(new StdioServerTransport());
