// One conformance run, server mode: starts the fixture server on a free
// loopback port, runs one pinned line of @modelcontextprotocol/conformance
// against it at one protocol version, and judges every scenario against an
// expected-failures file. Runs on the Node 22 from node_modules/.bin/node
// (the suite needs it).
//
//   node run.mjs --package conformance-0.2 --spec-version 2026-07-28 \
//     --fixture ../../build/tests/conformance_fixture_server \
//     [--expected expected-failures-2026-07-28.txt] [--results DIR]
//     [--scenario NAME | --extension PREFIX]
//
// --extension PREFIX runs, one at a time, every server scenario the suite
// lists as [extension] whose name starts with PREFIX (e.g. tasks-): --suite
// all leaves extension scenarios out, and one only runs by name with
// --force. Listing them from the suite keeps a new scenario of a bumped
// package from being skipped unnoticed.
//
// Expected-failures file: one entry a line, `scenario` (the whole scenario
// may fail) or `scenario:check-id` (only that check may fail), then `# why`.
// The run fails when a scenario or check fails without an entry, when an
// entry now passes (remove it: the list only shrinks), when a listed
// scenario did not run, when a scenario ran no check at all (only INFO
// lines; one the suite skipped is reported as skipped), or when the
// fixture server died.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    if (!key || argv[i + 1] === undefined) throw new Error(`run.mjs: option ${argv[i]} needs a value`);
    opts[key] = argv[i + 1];
  }
  for (const required of ['package', 'spec-version', 'fixture']) {
    if (!opts[required]) throw new Error(`run.mjs: --${required} is required`);
  }
  opts.expected = resolve(here, opts.expected ?? `expected-failures-${opts['spec-version']}.txt`);
  opts.results = resolve(opts.results ?? join(tmpdir(), `mcpd-conformance-${opts.package}-${opts['spec-version']}`));
  return opts;
}

export function readExpected(path) {
  const entries = new Map(); // entry -> reason
  if (!existsSync(path)) throw new Error(`expected-failures file ${path} is missing (an empty file means none)`);
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, n) => {
    const [entry, ...reason] = line.split('#');
    const id = entry.trim();
    if (!id) return;
    if (/\s/.test(id)) throw new Error(`${path}:${n + 1}: one scenario id per line, got '${id}'`);
    if (!reason.join('#').trim()) throw new Error(`${path}:${n + 1}: '${id}' needs a # reason`);
    if (entries.has(id)) throw new Error(`${path}:${n + 1}: '${id}' listed twice`);
    entries.set(id, reason.join('#').trim());
  });
  for (const id of entries.keys()) {
    const scenario = id.split(':')[0];
    if (id.includes(':') && entries.has(scenario)) {
      throw new Error(`${path}: ${scenario} is listed whole and by check (${id}); keep one`);
    }
  }
  return entries;
}

async function freePort() {
  const server = net.createServer();
  await new Promise((ok, fail) => server.listen(0, '127.0.0.1', ok).on('error', fail));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

async function waitListening(port, child, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`fixture server exited with ${child.exitCode} before listening`);
    const ok = await new Promise((done) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); done(true); });
      s.on('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`fixture server not listening on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function runSuite(cli, args, timeoutMs) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`conformance suite ran over ${timeoutMs} ms\n${out}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); done({ code, out }); });
  });
}

// Server scenarios the suite lists as extension scenarios ("  - NAME [extension]").
async function extensionScenarios(cli, prefix) {
  const { code, out } = await runSuite(cli, ['list'], 60000);
  const names = [];
  let server = false;
  for (const line of out.split('\n')) {
    if (/^\S/.test(line)) server = /^Server scenarios/.test(line);
    const m = line.match(/^\s+- (\S+) \[extension\]/);
    if (server && m && m[1].startsWith(prefix)) names.push(m[1]);
  }
  if (!names.length) throw new Error(`the suite lists no extension scenario named ${prefix}* (exit ${code}):\n${out}`);
  return names;
}

// The suite prints "=== Running scenario: NAME ===" (a suite) or "Running
// client scenario 'NAME' ..." (one scenario), then "Results saved to DIR".
function scenarioDirs(out) {
  const found = [];
  let current;
  for (const line of out.split('\n')) {
    const run = line.match(/^=== Running scenario: (\S+) ===/) ?? line.match(/^Running client scenario '([^']+)'/);
    if (run) current = run[1];
    const saved = line.match(/^Results saved to (.+)$/);
    if (saved && current) { found.push({ scenario: current, dir: saved[1].trim() }); current = undefined; }
  }
  return found;
}

export function judge(results, expected) {
  const problems = [];
  const lines = [];
  const ran = new Set(results.map((r) => r.scenario));
  for (const { scenario, checks } of results) {
    const failing = [...new Set(checks.filter((c) => c.status === 'FAILURE').map((c) => c.id))];
    const present = new Set(checks.map((c) => c.id));
    const whole = expected.has(scenario);
    const byCheck = [...expected.keys()].filter((k) => k.startsWith(`${scenario}:`)).map((k) => k.slice(scenario.length + 1));
    let verdict;
    if (whole) {
      if (failing.length) verdict = `expected failure (${failing.join(', ')})`;
      else { verdict = 'NOW PASSES'; problems.push(`${scenario}: now passes: remove it from the list`); }
    } else {
      const unexpected = failing.filter((id) => !byCheck.includes(id));
      for (const id of unexpected) {
        const check = checks.find((c) => c.id === id && c.status === 'FAILURE');
        problems.push(`${scenario}:${id} failed: ${check.errorMessage ?? '(no message)'}`);
      }
      for (const id of byCheck) {
        if (!failing.includes(id)) {
          problems.push(`${scenario}:${id}: now passes${present.has(id) ? '' : ' (or no longer runs)'}: remove it from the list`);
        }
      }
      const skippedOnly = checks.length > 0 && checks.every((c) => c.status === 'SKIPPED');
      // Only INFO lines (or nothing) means the scenario judged nothing: it
      // could not have failed, so it does not pass (a fixture tool it needs
      // may be missing). A scenario the suite itself skipped says so.
      const judged = checks.filter((c) => ['SUCCESS', 'FAILURE', 'WARNING'].includes(c.status)).length;
      const empty = !skippedOnly && judged === 0;
      if (empty) problems.push(`${scenario}: ran no check (${checks.length} INFO lines only): it proves nothing`);
      verdict = unexpected.length ? `FAILED (${unexpected.join(', ')})`
        : empty ? 'FAILED (no check ran)'
        : failing.length ? `passed but for expected failures (${failing.join(', ')})`
        : skippedOnly ? 'skipped by the suite (nothing to fail)' : 'passed';
    }
    const counts = `${checks.filter((c) => c.status === 'SUCCESS').length} ok, ${failing.length} failing, ` +
      `${checks.filter((c) => c.status === 'WARNING').length} warnings, ` +
      `${checks.filter((c) => c.status === 'SKIPPED').length} skipped`;
    lines.push(`${verdict.startsWith('FAILED') || verdict === 'NOW PASSES' ? '✗' : '✓'} ${scenario}: ${verdict} [${counts}]`);
  }
  for (const id of expected.keys()) {
    const scenario = id.split(':')[0];
    if (!ran.has(scenario)) problems.push(`${id} is listed but scenario ${scenario} did not run: remove or rename it`);
  }
  return { problems, lines };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const cli = join(here, 'node_modules', opts.package, 'dist', 'index.js');
  if (!existsSync(cli)) {
    throw new Error(`tests/conformance: npm package ${opts.package} is not installed; ` +
      'run scripts/install-deps.sh (it runs npm ci from package-lock.json)');
  }
  const expected = readExpected(opts.expected);
  rmSync(opts.results, { recursive: true, force: true });
  mkdirSync(opts.results, { recursive: true });

  const port = await freePort();
  const fixture = spawn(opts.fixture, [`127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let fixtureErr = '';
  fixture.stderr.on('data', (c) => { fixtureErr += c; });
  const fixtureExit = new Promise((r) => fixture.on('exit', (code, signal) => r({ code, signal })));
  const started = Date.now();
  let suite;
  let wanted = [];
  try {
    await waitListening(port, fixture);
    const args = ['server', '--url', `http://127.0.0.1:${port}/mcp`, '--spec-version', opts['spec-version'],
      '-o', opts.results];
    if (opts.extension) {
      suite = { code: 0, out: '' };
      wanted = await extensionScenarios(cli, opts.extension);
      for (const name of wanted) {
        const one = await runSuite(cli, [...args, '--scenario', name, '--force'], 90000);
        suite.out += one.out;
        suite.code ||= one.code;
      }
    } else {
      args.push(...(opts.scenario ? ['--scenario', opts.scenario] : ['--suite', 'all']));
      suite = await runSuite(cli, args, 150000);
    }
  } finally {
    if (fixture.exitCode === null) fixture.kill('SIGTERM');
  }
  const exit = await Promise.race([fixtureExit, new Promise((r) => setTimeout(() => r(null), 15000).unref())]);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);

  const found = scenarioDirs(suite.out);
  const results = found.map(({ scenario, dir }) => ({
    scenario, checks: JSON.parse(readFileSync(join(dir, 'checks.json'), 'utf8')),
  }));
  const { problems, lines } = judge(results, expected);
  for (const name of wanted) {
    if (!results.some((r) => r.scenario === name)) problems.push(`scenario ${name} saved no results:\n${suite.out}`);
  }
  if (!results.length) problems.push(`the suite ran no scenario (exit ${suite.code}):\n${suite.out}`);
  if (!exit) { fixture.kill('SIGKILL'); problems.push('fixture server did not stop within 15 s of SIGTERM'); }
  else if (exit.code !== 0) problems.push(`fixture server ended with ${exit.signal ?? 'exit code ' + exit.code} (expected a clean exit on SIGTERM)`);

  console.log(`conformance ${opts.package} (${JSON.parse(readFileSync(join(here, 'node_modules', opts.package, 'package.json'), 'utf8')).version}) ` +
    `at ${opts['spec-version']} against the fixture server, ${results.length} scenarios in ${seconds} s; expected failures: ${opts.expected}`);
  for (const line of lines) console.log(`  ${line}`);
  if (problems.length) {
    console.log('\nproblems:');
    for (const p of problems) console.log(`  - ${p}`);
    if (fixtureErr) console.log(`--- fixture stderr ---\n${fixtureErr}`);
  }
  const bad = lines.filter((l) => l.startsWith('✗')).length;
  console.log(`\nconformance: ${results.length - bad} passed, ${bad} failed`);
  process.exitCode = problems.length ? 1 : 0;
}

main().catch((err) => { console.error(String(err.stack ?? err)); process.exitCode = 1; });
