#!/usr/bin/env node
// Drives `mcpd serve --stdio` (with and without --all-features) and the
// suite's fixture server through every method of each protocol version
// (2025-03-26, 2025-06-18 and 2025-11-25 after initialize; 2026-07-28 with
// _meta on every request and server/discover), plus inputs that must fail,
// and validates every line the server writes against that version's
// published JSON schema: the JSON-RPC envelope, and the specific result,
// notification or server request type. A line that is not JSON fails the
// test: stdout carries protocol messages only. So does a message of a kind
// the version does not define, and a kind a conversation is meant to
// provoke but did not. Server faults already known are listed per
// conversation (scenarios.mjs) and printed as KNOWN BUG; one that stops
// occurring fails the test until it is taken off the list.
//
// Exit codes: 0 all valid, 1 a violation or a missing reply, 77 skipped
// (no shared data).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SKIP = 77;

for (const name of ['ajv', 'ajv-formats']) {
  if (!existsSync(join(here, 'node_modules', name, 'package.json'))) {
    console.error(`tests/schema: npm package ${name} is not installed; run scripts/install-deps.sh ` +
      '(it runs npm ci from package-lock.json)');
    process.exit(1);
  }
}

const dataDir = process.env.MCP_SHARED_DATA || resolve(here, '../../../shared/data');
if (!existsSync(join(dataDir, 'mcp-schema'))) {
  console.log('SKIPPED: ../shared/data not found (set MCP_SHARED_DATA to the shared data directory)');
  process.exit(SKIP);
}

const bin = process.env.MCPD_BIN || resolve(here, '../../build/mcpd');
if (!existsSync(bin)) {
  console.error(`mcpd binary not found at ${bin}; build it (make build) or set MCPD_BIN`);
  process.exit(1);
}

const fixture = process.env.SCHEMA_FIXTURE_BIN || resolve(here, '../../build/tests/schema_fixture_server');
if (!existsSync(fixture)) {
  console.error(`schema_fixture_server not found at ${fixture}; build it (make build) or set SCHEMA_FIXTURE_BIN`);
  process.exit(1);
}

const { VersionSchema } = await import('./schemas.mjs');
const { runHandshake, runModern, runUndefinedKinds, runFixture } = await import('./scenarios.mjs');

const versions = ['2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'];
const MODERN = '2026-07-28';

// Each version is run against the default catalog, against --all-features
// and against the fixture server; a version without elicitation also gets
// a client that declares it anyway.
const runs = [];
for (const version of versions) {
  if (!existsSync(join(dataDir, 'mcp-schema', version, 'schema.json'))) {
    console.log(`${version}: SKIPPED, no schema.json in the shared data`);
    continue;
  }
  const schema = new VersionSchema(dataDir, version);
  const run = version === MODERN ? runModern : runHandshake;
  runs.push({ label: version, go: () => run({ bin, version, schema }) });
  runs.push({ label: `${version} --all-features`, go: () => run({ bin, version, schema, allFeatures: true }) });
  runs.push({ label: `${version} fixture`, go: () => runFixture({ bin: fixture, version, schema }) });
  if (!schema.has('ElicitRequest')) {
    runs.push({ label: `${version} undeclared kinds`, go: () => runUndefinedKinds({ bin, version, schema }) });
  }
}
if (runs.length === 0) {
  console.log('SKIPPED: no MCP schema versions found under ../shared/data/mcp-schema');
  process.exit(SKIP);
}

// The conversations are independent server processes that spend most of
// their time waiting on timers, so a few run at once; reports print in order.
const PARALLEL = 4;
const reports = new Array(runs.length);
let next = 0;
await Promise.all(Array.from({ length: PARALLEL }, async () => {
  while (next < runs.length) {
    const i = next++;
    reports[i] = await runs[i].go();
  }
}));

let failures = 0;
for (const [i, report] of reports.entries()) {
  const { label } = runs[i];
  const counts = Object.entries(report.counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(', ');
  for (const k of report.known) console.log(`${label}: ${k}`);
  if (report.problems.length === 0) {
    console.log(`${label}: ok, ${report.lines} lines validated (${counts})`);
    continue;
  }
  failures += report.problems.length;
  console.log(`${label}: ${report.problems.length} problem(s) in ${report.lines} lines (${counts})`);
  for (const p of report.problems) console.log(`  - ${p}`);
  if (report.stderr.trim()) console.log(`  mcpd stderr:\n${indent(report.stderr.trim(), '    ')}`);
}
process.exit(failures ? 1 : 0);

function indent(text, pad) {
  return text.split('\n').slice(-40).map((l) => pad + l).join('\n');
}
