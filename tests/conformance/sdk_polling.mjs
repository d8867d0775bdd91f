// SSE polling with the official TypeScript SDK client as the peer: the
// fixture's test_reconnection ends its POST stream at once (priming event
// only) and answers 200 ms later; the SDK must resume with Last-Event-ID
// after the stream's retry time and return the reply from callTool, as if
// the stream had stayed open. The conformance scenario checks the server's
// wire; this checks that a real client gets through it.
//
//   node sdk_polling.mjs --fixture ../../build/tests/conformance_fixture_server
import { spawn } from 'node:child_process';
import net from 'node:net';

const fixtureIndex = process.argv.indexOf('--fixture');
if (fixtureIndex < 0 || !process.argv[fixtureIndex + 1]) throw new Error('sdk_polling.mjs: --fixture PATH is required');
const fixturePath = process.argv[fixtureIndex + 1];

const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');

async function freePort() {
  const server = net.createServer();
  await new Promise((ok, fail) => server.listen(0, '127.0.0.1', ok).on('error', fail));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

async function waitListening(port, child) {
  for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
    if (child.exitCode !== null) throw new Error(`fixture exited with ${child.exitCode}`);
    const ok = await new Promise((done) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); done(true); });
      s.on('error', () => done(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`fixture not listening on ${port}`);
}

const port = await freePort();
const fixture = spawn(fixturePath, [`127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'inherit'] });
let failed = false;
try {
  await waitListening(port, fixture);
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`));
  const client = new Client({ name: 'sdk-polling', version: '1.0.0' });
  await client.connect(transport);
  const started = Date.now();
  const result = await client.callTool({ name: 'test_reconnection', arguments: {} });
  const took = Date.now() - started;
  const text = result.content?.[0]?.text;
  if (text !== 'Reconnection test completed successfully') {
    failed = true;
    console.log(`unexpected result: ${JSON.stringify(result)}`);
  } else if (took < 950) {
    // The reply is ready after 200 ms; only a resumption waits the
    // stream's retry time (1000 ms) first.
    failed = true;
    console.log(`reply in ${took} ms: sooner than the retry time, so the stream was not closed early`);
  } else {
    console.log(`callTool test_reconnection: reply after the stream closed early, in ${took} ms`);
  }
  // The session is intact afterwards: an ordinary call still works.
  const simple = await client.callTool({ name: 'test_simple_text', arguments: {} });
  if (!simple.content?.[0]?.text) { failed = true; console.log(`simple call after polling: ${JSON.stringify(simple)}`); }
  await client.close();
} catch (err) {
  failed = true;
  console.log(String(err.stack ?? err));
} finally {
  fixture.kill('SIGTERM');
}
process.exitCode = failed ? 1 : 0;
