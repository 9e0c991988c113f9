/**
 * `cutover local` as a user runs it: a child process (`npx tsx bin/cutover.ts local ...`), judged by
 * its exit code and what it prints.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';
import { runCutover, writeTestAccount } from '../helpers/cli';

/** A Node stack frame, e.g. `    at loadConfigFile (/work/main/lib/config/load.ts:61:11)`. */
const STACK_FRAME = /^\s+at .+[(:]\d+/m;

describe('e2e: the cutover CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-e2e-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const testAccount = () => writeTestAccount(dir);

  it('`cutover local --exit` plays v2, v3 and v4 on the living twin, passes every check, prints timeline, figures and URLs, exits 0', { timeout: 420_000 }, async () => {
    const stateDir = join(dir, 'state');
    // The default ×60: real process start-up holds the simulated clock, so a busy machine only makes it slower.
    const r = await runCutover(['local', '--port', '0', '--account', testAccount(), '--state-dir', stateDir, '--reset', '--exit'], 400_000);
    const out = r.stdout;

    assert.equal(r.code, 0, `exit ${r.code} (${r.signal})\n${out}\n${r.stderr}`);
    const url = /cutover local twin on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
    assert.ok(url, `no "cutover local twin on" line in\n${out}`);
    assert.notEqual(Number(url[2]), 0, 'prints the port it got, not 0');
    const base = url[1]!;

    assert.match(out, /✔ v2 promoted with zero failed requests: execution SUCCEEDED; staging 100% on v2; \d+ requests during the deployment, 0 5xx, 0 failed/);
    // Staging → production: the same digest, approved with `cutover approve` (a real CLI process).
    assert.match(out, /\$ cutover approve hello-world production/);
    assert.match(out, /Approved deployment [0-9a-f]{40}-promote of hello-world\/production as demo operator/);
    assert.match(out, /✔ v2 promoted to production: approved with cutover approve, the same digest, zero failed requests: execution SUCCEEDED; image \S+@sha256:[0-9a-f]{64} = the one staging ran/);
    assert.match(out, /✔ no release that failed in staging reached production: v3, v4, v5, v6, v7 failed in staging: none was offered to production, which runs v2/);
    assert.match(out, /\$ cutover metrics hello-world --since 1d\n.*DORA metrics[^\n]*\n.*deployment frequency.*lead time.*change failure rate.*time to restore[^\n]*\n\s+production .*\n\s+staging /);
    assert.match(out, /✔ cutover metrics prints the four DORA figures: exit 0/);
    assert.match(out, /✔ v3 rolled back by an alarm from real metrics: execution FAILED \(Cutover\.RolledBackOnAlarm\); hello-world-staging-5xx → ALARM: Threshold Crossed/);
    assert.match(out, /✔ v4 migration failed, schema unchanged: execution FAILED \(Cutover\.MigrationFailed/);
    // Pushes in the real order: the webhook first, the deployment waits, CI pushes the image later.
    assert.match(out, /⏳ waiting for image hello-world:[0-9a-f]{40}\n/);
    assert.match(out, /CI pushed image hello-world:[0-9a-f]{40} \(v2\) 90 s \(simulated\) after the push/);
    assert.match(out, /✔ v6 with a critical vulnerability is refused before anything changes: execution FAILED \(Cutover\.ScanRefused\); snapshots (\d+) → \1; lock released; staging still on v2/);
    assert.match(out, /✔ v5 without an image fails having changed nothing: execution FAILED \(Cutover\.ImageNotFound\); snapshots (\d+) → \1; lock released; staging still on v2/);
    assert.match(out, /✔ no write lost in the whole demo: \d+ acknowledged writes, 0 missing/);
    assert.match(out, /Demo passed in [\d.]+ s/);
    assert.doesNotMatch(out, /^ {2}✘ /m, 'no demo check failed');
    // Per-step figures: requests by release and row counts.
    assert.match(out, /requests during the deployment: sent \d+, 2xx \d+, 5xx 0, failed 0 \(v1 \d+ · v2 \d+\)/);
    assert.match(out, /orders: \d+ rows before → \d+ after; columns \["id","item","created_at","priority"\]/);
    // Timeline lines.
    assert.match(out, /^ {2}\S+\s+t\+\S+\s+▶ ShiftTraffic$/m);
    assert.match(out, /t\+\S+\s+10% of production traffic on green/);
    // The local URLs, with the port the twin listened on.
    assert.ok(out.includes(`GitHub webhook   POST ${base}/webhooks/github`), out);
    assert.ok(out.includes(`Step Functions   ${base}`), out);
    assert.match(out, /production traffic +http:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(out, /Serving until Ctrl-C/, '--exit does not serve');
    assert.doesNotMatch(r.stderr, STACK_FRAME);
    // What it leaves in the state directory: task logs and snapshot files. v1, v2 and v3 run a
    // migration task and 2 service tasks each, v4 its (failing) migration: 10 tasks, and no
    // replacement loop (tasks that did not listen in time were replaced by the hundred before).
    const taskLogs = readdirSync(join(stateDir, 'logs', 'hello-world')).length;
    assert.ok(taskLogs >= 4 && taskLogs <= 32, `a log per task, no replacement loop (${taskLogs} task logs)`);
    assert.ok(readdirSync(join(stateDir, 'rds', 'snapshots')).some((f) => f.endsWith('.tar.gz')), 'snapshot files');
  });

  it('`--port abc` exits non-zero naming --port, without a stack trace', async () => {
    const r = await runCutover(['local', '--port', 'abc', '--exit'], 60_000);
    assert.notEqual(r.code, 0);
    assert.equal(r.signal, null);
    assert.match(r.stderr, /--port must be a whole number from 0 to 65535/);
    assert.match(r.stderr, /'abc' is invalid/);
    assert.doesNotMatch(r.stderr, STACK_FRAME);
    assert.doesNotMatch(r.stdout, /cutover local twin on/, 'no twin was started');
  });

  it('`--config /nonexistent.json` exits 1 with "Cannot read cutover config file", without a stack trace', async () => {
    const r = await runCutover(['local', '--config', '/nonexistent.json', '--exit'], 60_000);
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

    const r = await runCutover(['local', '--config', file, '--exit'], 60_000);

    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`Invalid cutover config in ${file}`), r.stderr);
    assert.match(r.stderr, /services\.hello-world\.environments\.production\.strategy\.percent: /);
    assert.doesNotMatch(r.stderr, STACK_FRAME);
    assert.doesNotMatch(r.stdout, /cutover local twin on/);
  });
});
