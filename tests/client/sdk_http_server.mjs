// The TypeScript SDK peer (sdk_catalog.mjs) over Streamable HTTP: the SDK's
// StreamableHTTPServerTransport on a loopback port, one session (and one
// McpServer) per initialize, as the SDK's own examples do. It prints
// "PORT <n>" once listening. GET /stats answers how many sessions were
// created and DELETEd, so tests can see what the client did to them.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { buildServer } from './sdk_catalog.mjs';

const sessions = new Map();
const stats = { created: 0, deleted: 0, open: 0 };

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

function refuse(res, status, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }));
}

const http = createServer(async (req, res) => {
  try {
    if (req.url === '/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ...stats, open: sessions.size }));
      return;
    }
    if (!req.url.startsWith('/mcp')) return refuse(res, 404, 'Not Found');
    const sid = req.headers['mcp-session-id'];
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    let transport = sid ? sessions.get(sid) : undefined;
    if (!transport) {
      if (sid) return refuse(res, 404, 'Session not found');
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        return refuse(res, 400, 'Bad Request: no session; initialize first');
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => { sessions.set(id, transport); stats.created++; },
      });
      transport.onclose = () => {
        if (transport.sessionId && sessions.delete(transport.sessionId)) stats.deleted++;
      };
      await buildServer().connect(transport);
    }
    await transport.handleRequest(req, res, body);
  } catch (err) {
    if (!res.headersSent) refuse(res, 500, `Internal error: ${err.message}`);
  }
});

http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${http.address().port}\n`);
});
// Ends when the test closes our stdin (or kills us).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
