#!/usr/bin/env node
// Drives `mcpd serve --stdio` through every method of each protocol version
// (2025-03-26, 2025-06-18 and 2025-11-25 after initialize; 2026-07-28 with
// _meta on every request and server/discover), plus inputs that must fail,
// and validates every line the server writes against that version's
// published JSON schema: the JSON-RPC envelope, and the specific result or
// notification type of the method. A line that is not JSON fails the test:
// stdout carries protocol messages only.
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

const { VersionSchema } = await import('./schemas.mjs');
const { runHandshake, runModern } = await import('./scenarios.mjs');

const runs = [
  ['2025-03-26', runHandshake],
  ['2025-06-18', runHandshake],
  ['2025-11-25', runHandshake],
  ['2026-07-28', runModern],
];

let failures = 0;
let ran = 0;
for (const [version, run] of runs) {
  if (!existsSync(join(dataDir, 'mcp-schema', version, 'schema.json'))) {
    console.log(`${version}: SKIPPED, no schema.json in the shared data`);
    continue;
  }
  ran++;
  const schema = new VersionSchema(dataDir, version);
  const report = await run({ bin, version, schema });
  const counts = Object.entries(report.counts).map(([k, n]) => `${n} ${k}`).join(', ');
  if (report.problems.length === 0) {
    console.log(`${version}: ok, ${report.lines} lines validated (${counts})`);
    continue;
  }
  failures += report.problems.length;
  console.log(`${version}: ${report.problems.length} problem(s) in ${report.lines} lines (${counts})`);
  for (const p of report.problems) console.log(`  - ${p}`);
  if (report.stderr.trim()) console.log(`  mcpd stderr:\n${indent(report.stderr.trim(), '    ')}`);
}

if (ran === 0) {
  console.log('SKIPPED: no MCP schema versions found under ../shared/data/mcp-schema');
  process.exit(SKIP);
}
process.exit(failures ? 1 : 0);

function indent(text, pad) {
  return text.split('\n').slice(-40).map((l) => pad + l).join('\n');
}
