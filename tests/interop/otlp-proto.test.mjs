// mcpd serve --otlp-protocol http/protobuf against an independent decoder:
// the protobuf code OpenTelemetry JS generates from opentelemetry-proto
// (@opentelemetry/otlp-transformer, pinned), not our own reading of the
// wire format. A loopback collector in this process takes mcpd's exports;
// the same tools/call is traced once with each encoding, and the span the
// official decoder reads from the protobuf body must say what the JSON
// body says (ids and times aside, which differ from run to run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePackages, mcpdPath } from './harness.mjs';

requirePackages(['@opentelemetry/otlp-transformer', 'protobufjs']);
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
// The generated module (ExportTraceServiceRequest.decode and the rest),
// by path: the package's entry point exports only its serializers.
const root = require(join(here, 'node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const CALL = {
  jsonrpc: '2.0', id: 7, method: 'tools/call',
  params: {
    name: 'echo', arguments: { text: 'hello' },
    _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 'otlp-interop', version: '1' },
      traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
      tracestate: 'rojo=00f067aa0ba902b7',
    },
  },
};

// A collector on a free loopback port that keeps every POST.
async function startCollector() {
  const posts = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': req.headers['content-type'] || 'application/json' });
      res.end(req.headers['content-type'] === 'application/json' ? '{}' : '');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { posts, url: `http://127.0.0.1:${server.address().port}/v1/traces`, close: () => server.close() };
}

// One tools/call through mcpd serve --stdio exporting with protocol; mcpd
// exports what is left when its input ends and it exits.
async function tracedCall(protocol) {
  const collector = await startCollector();
  const child = spawn(mcpdPath(), ['serve', '--stdio', '--otlp-endpoint', collector.url, '--otlp-protocol', protocol],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { err += c; });
  const exited = new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
  child.stdin.write(JSON.stringify(CALL) + '\n');
  const deadline = Date.now() + 10000;
  while (!out.includes('\n') && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
  child.stdin.end();
  const status = await exited;
  collector.close();
  assert.deepEqual(status, { code: 0, signal: null }, `mcpd exits cleanly; stderr:\n${err}`);
  const reply = JSON.parse(out.split('\n')[0]);
  assert.equal(reply.id, 7, `a reply to the call: ${out}`);
  assert.ok(collector.posts.length >= 1, `mcpd exported its span; stderr:\n${err}`);
  return collector.posts;
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const int = (v) => (v === null || v === undefined ? 0 : Number(v));

// The decoded protobuf AnyValue and the JSON one, as one plain form.
function anyFromProto(v) {
  if (v.stringValue !== null && v.stringValue !== undefined) return { string: v.stringValue };
  if (v.intValue !== null && v.intValue !== undefined) return { int: String(v.intValue) };
  if (v.boolValue !== null && v.boolValue !== undefined) return { bool: v.boolValue };
  if (v.doubleValue !== null && v.doubleValue !== undefined) return { double: v.doubleValue };
  return { none: true };
}
function anyFromJson(v) {
  if ('stringValue' in v) return { string: v.stringValue };
  if ('intValue' in v) return { int: String(v.intValue) };
  if ('boolValue' in v) return { bool: v.boolValue };
  if ('doubleValue' in v) return { double: Number(v.doubleValue) };
  return { none: true };
}

function spansFromProto(posts) {
  const spans = [];
  let resource, scope;
  for (const post of posts) {
    assert.equal(post.type, 'application/x-protobuf');
    assert.equal(post.path, '/v1/traces');
    const request = ExportTraceServiceRequest.decode(post.body);
    for (const rs of request.resourceSpans) {
      resource = rs.resource.attributes.map((a) => [a.key, anyFromProto(a.value)]);
      for (const ss of rs.scopeSpans) {
        scope = { name: ss.scope.name, version: ss.scope.version };
        for (const s of ss.spans) {
          spans.push({
            traceId: hex(s.traceId), parentSpanId: hex(s.parentSpanId || []), spanIdLength: s.spanId.length,
            traceState: s.traceState || '', name: s.name, kind: int(s.kind),
            ordered: Number(s.startTimeUnixNano) <= Number(s.endTimeUnixNano) && Number(s.startTimeUnixNano) > 1.6e18,
            attributes: s.attributes.map((a) => [a.key, anyFromProto(a.value)]),
            dropped: int(s.droppedAttributesCount),
            status: { code: int(s.status && s.status.code), message: (s.status && s.status.message) || '' },
          });
        }
      }
    }
  }
  return { resource, scope, spans };
}

function spansFromJson(posts) {
  const spans = [];
  let resource, scope;
  for (const post of posts) {
    assert.equal(post.type, 'application/json');
    const request = JSON.parse(post.body.toString('utf8'));
    for (const rs of request.resourceSpans) {
      resource = rs.resource.attributes.map((a) => [a.key, anyFromJson(a.value)]);
      for (const ss of rs.scopeSpans) {
        scope = { name: ss.scope.name, version: ss.scope.version };
        for (const s of ss.spans) {
          spans.push({
            traceId: s.traceId, parentSpanId: s.parentSpanId || '', spanIdLength: s.spanId.length / 2,
            traceState: s.traceState || '', name: s.name, kind: int(s.kind),
            ordered: BigInt(s.startTimeUnixNano) <= BigInt(s.endTimeUnixNano) && Number(s.startTimeUnixNano) > 1.6e18,
            attributes: s.attributes.map((a) => [a.key, anyFromJson(a.value)]),
            dropped: int(s.droppedAttributesCount),
            status: { code: int(s.status && s.status.code), message: (s.status && s.status.message) || '' },
          });
        }
      }
    }
  }
  return { resource, scope, spans };
}

test('the official OpenTelemetry decoder reads the protobuf export as the JSON one says', async () => {
  const proto = spansFromProto(await tracedCall('http/protobuf'));
  const json = spansFromJson(await tracedCall('http/json'));
  assert.equal(proto.spans.length, 1, 'one span per request');
  const span = proto.spans[0];
  assert.equal(span.traceId, TRACE_ID);
  assert.equal(span.parentSpanId, PARENT_ID);
  assert.equal(span.spanIdLength, 8);
  assert.equal(span.traceState, 'rojo=00f067aa0ba902b7');
  assert.equal(span.name, 'tools/call echo');
  assert.equal(span.kind, 2, 'SPAN_KIND_SERVER');
  // Span.flags (field 16) is newer than the proto this decoder was generated
  // from: it skips the field (checking its wire type), so the unit test's
  // walker is what reads it (tests/unit/test_obs_proto.c).
  assert.ok(span.ordered, 'start and end are unix nanoseconds, in order');
  const attrs = Object.fromEntries(span.attributes);
  assert.deepEqual(attrs['mcp.method.name'], { string: 'tools/call' });
  assert.deepEqual(attrs['gen_ai.tool.name'], { string: 'echo' });
  assert.deepEqual(attrs['gen_ai.operation.name'], { string: 'execute_tool' });
  assert.deepEqual(attrs['jsonrpc.request.id'], { string: '7' });
  assert.deepEqual(attrs['network.transport'], { string: 'pipe' });
  const resource = Object.fromEntries(proto.resource);
  assert.deepEqual(resource['service.name'], { string: 'mcpd' });
  assert.deepEqual(resource['telemetry.sdk.name'], { string: 'libmcp' });
  assert.equal(proto.scope.name, 'libmcp');
  // Everything else, field by field, as the JSON encoding has it.
  assert.deepEqual(proto, json);
});

test('mcpd serve refuses an OTLP protocol it does not speak', async () => {
  const child = spawn(mcpdPath(), ['serve', '--stdio', '--otlp-protocol', 'grpc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  const code = await new Promise((ok) => child.on('exit', ok));
  assert.notEqual(code, 0);
  assert.match(err, /--otlp-protocol needs http\/protobuf or http\/json, got 'grpc'/);
});
