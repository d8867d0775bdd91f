// A small MCP server written with the official TypeScript SDK (1.x, pinned
// in package-lock.json), served over stdio. `mcpd call` drives it in
// call.test.mjs, so the peer on the other end is not our own code. The
// catalog itself is in sdk_catalog.mjs.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { buildServer } from './sdk_catalog.mjs';

const server = buildServer();
await server.connect(new StdioServerTransport());
// The task store's expiry timers would keep node alive after the client
// hangs up; end with the input instead.
process.stdin.on('end', () => process.exit(0));
