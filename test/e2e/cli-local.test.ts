/**
 * `cutover local` as a user runs it: a child process (`npx tsx bin/cutover.ts local ...`), judged by
 * its exit code and what it prints.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `npx tsx bin/cutover.ts <args>` in the repository root; killed after `timeoutMs`. */
function cutover(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.CUTOVER_PORT;
  delete env.CUTOVER_GITHUB_WEBHOOK_SECRET;
  delete env.NODE_OPTIONS; // not the test runner's loader / flags
  delete env.NODE_TEST_CONTEXT; // a child node must not think it is a test runner's child
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'bin/cutover.ts', ...args], { cwd: ROOT_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A Node stack frame, e.g. `    at loadConfigFile (/work/main/lib/config/load.ts:61:11)`. */
const STACK_FRAME = /^\s+at .+[(:]\d+/m;

describe('e2e: the cutover CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-e2e-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('`cutover local --port 0 --exit` plays the demo, passes both checks, prints the timeline and the URLs, exits 0', async () => {
    const r = await cutover(['local', '--port', '0', '--exit']);
    const out = r.stdout;

    assert.equal(r.code, 0, `exit ${r.code} (${r.signal})\n${out}\n${r.stderr}`);
    const url = /cutover local twin on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
    assert.ok(url, `no "cutover local twin on" line in\n${out}`);
    assert.notEqual(Number(url[2]), 0, 'prints the port it got, not 0');
    const base = url[1]!;

    assert.match(out, /✔ push 1 deployed: execution SUCCEEDED; production traffic 100% on green/);
    assert.match(out, /✔ push 2 rolled back on alarm: execution FAILED \(Cutover\.RolledBackOnAlarm\)/);
    assert.match(out, /Demo passed in [\d.]+ s: ✔ push 1 deployed, ✔ push 2 rolled back on alarm/);
    assert.doesNotMatch(out, /✘ push/, 'no demo check failed');
    // Timeline lines.
    assert.match(out, /^ {2}\S+\s+t\+\S+\s+▶ ShiftTraffic$/m);
    assert.match(out, /t\+\S+\s+10% of production traffic on green/);
    assert.match(out, /✘ FAILED Cutover\.RolledBackOnAlarm: hello-world\/production: release \w{7} .*was rolled back: alarm hello-world-production-5xx is in ALARM/);
    // The local URLs, with the port the twin listened on.
    assert.ok(out.includes(`GitHub webhook   POST ${base}/webhooks/github`), out);
    assert.ok(out.includes(`EventBridge      POST ${base}/events`), out);
    assert.ok(out.includes(`Step Functions   ${base}`), out);
    assert.ok(out.includes(`aws stepfunctions list-executions --endpoint-url ${base} --region us-east-1 --state-machine-arn arn:aws:states:us-east-1:123456789012:stateMachine:cutover-deploy`), out);
    assert.doesNotMatch(out, /Serving until Ctrl-C/, '--exit does not serve');
    assert.doesNotMatch(r.stderr, STACK_FRAME);
  });

  it('`--port abc` exits non-zero naming --port, without a stack trace', async () => {
    const r = await cutover(['local', '--port', 'abc', '--exit'], 60_000);
    assert.notEqual(r.code, 0);
    assert.equal(r.signal, null);
    assert.match(r.stderr, /--port must be a whole number from 0 to 65535/);
    assert.match(r.stderr, /'abc' is invalid/);
    assert.doesNotMatch(r.stderr, STACK_FRAME);
    assert.doesNotMatch(r.stdout, /cutover local twin on/, 'no twin was started');
  });

  it('`--config /nonexistent.json` exits 1 with "Cannot read cutover config file", without a stack trace', async () => {
    const r = await cutover(['local', '--config', '/nonexistent.json', '--exit'], 60_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot read cutover config file \/nonexistent\.json/);
    assert.doesNotMatch(r.stderr, STACK_FRAME);
    assert.doesNotMatch(r.stdout, /cutover local twin on/);
  });

  it('an invalid config file exits 1 naming the file and the path of the bad field, without a stack trace', async () => {
    const config = JSON.parse(readFileSync(join(ROOT_DIR, 'lib/config/samples/hello-world.json'), 'utf8')) as {
      services: Record<string, { environments: Record<string, { strategy: Record<string, unknown> }> }>;
    };
    config.services['hello-world']!.environments.production!.strategy.percent = 150;
    const file = join(dir, 'bad-percent.json');
    writeFileSync(file, JSON.stringify(config, null, 2));

    const r = await cutover(['local', '--config', file, '--exit'], 60_000);

    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`Invalid cutover config in ${file}`), r.stderr);
    assert.match(r.stderr, /services\.hello-world\.environments\.production\.strategy\.percent: /);
    assert.doesNotMatch(r.stderr, STACK_FRAME);
    assert.doesNotMatch(r.stdout, /cutover local twin on/);
  });
});
