/**
 * The operator commands of the `cutover` CLI as an operator runs them: child processes
 * (`npx tsx bin/cutover.ts … --endpoint <twin>`) against one local twin for the whole file, judged by
 * exit code, what they print, and what the twin then shows (executions, records, the audit timeline).
 *
 * The twin's config has two environments: `staging` (all-at-once: a deployment takes well under a
 * second) and `production` (a canary whose bake is a simulated day, so it stays in the bake until an
 * operator promotes or aborts it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { parseConfig } from '../../lib/config/load';
import type { AuditEvent } from '../../lib/domain/records';
import { errorLines, runCutover, type CliResult } from '../helpers/cli';
import { randomCommit, sampleConfigJson, TestTwin } from '../helpers/twin';

/** A Node stack frame, e.g. `    at loadConfigFile (/work/main/lib/config/load.ts:61:11)`. */
const STACK_FRAME = /^\s+at .+[(:]\d+/m;
const SERVICE = 'hello-world';

/** The sample config with a long-bake production and a fast staging environment. */
function operatorConfig() {
  const raw = sampleConfigJson() as { services: Record<string, { environments: Record<string, Record<string, unknown>> }> };
  const envs = raw.services[SERVICE]!.environments;
  const production = envs.production!;
  production.strategy = { type: 'canary', percent: 10, bakeSeconds: 86_400 };
  production.databaseFailurePolicy = 'keep';
  production.rollbackWindowSeconds = 86_400;
  // staging: its own ECS services, target groups, listeners, alarms and database.
  const staging = JSON.parse(
    JSON.stringify(production)
      .replace(/hello-world-(blue|green|production)/g, 'hello-world-staging-$1')
      .replace(/hello-world\/50dc6c495c0c9188/g, 'hello-world-staging/60dc6c495c0c9188'),
  ) as Record<string, unknown>;
  staging.strategy = { type: 'all-at-once' };
  staging.stabilizationTimeoutSeconds = 60;
  envs.staging = staging;
  return parseConfig(raw, 'cli-operator test config');
}

/** The one error line of a failed run (asserts there is exactly one and no stack trace). */
function oneErrorLine(r: CliResult): string {
  assert.equal(r.code, 1, `exit ${r.code} (${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = errorLines(r);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK_FRAME);
  return lines[0]!;
}

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code} (${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.deepEqual(errorLines(r), [], 'nothing on stderr');
  return r;
}

describe('e2e: operator commands against a running twin', () => {
  let t: TestTwin;
  let endpoint: string;
  /** The staging deployment of the first test (succeeded). */
  let firstStaging = '';

  before(async () => {
    t = await TestTwin.start({ config: operatorConfig() });
    endpoint = t.twin.url;
  });
  after(() => t?.stop());

  const cliAs = (operator: string, ...args: string[]) => runCutover([...args, '--endpoint', endpoint, '--operator', operator], 60_000);
  const cli = (...args: string[]) => cliAs('ada', ...args);

  /** Resolves once production's deployment `executionArn` is in its bake (the token on the lock). */
  const untilBaking = (executionArn: string) =>
    t.waitFor(
      'the bake',
      async () => {
        const lock = await t.lock();
        return lock?.executionArn === executionArn && lock.pendingKind === 'bake' ? lock : undefined;
      },
      30_000,
    );

  const timeline = (environment: string, deploymentId: string): Promise<AuditEvent[]> => t.twin.ledger.timeline(SERVICE, environment, { deploymentId });

  it('`deploy --wait` follows a deployment to SUCCEEDED; `status` and `history` show it as tables and as --json', async () => {
    const commit = randomCommit();
    const r = ok(await cli('deploy', SERVICE, 'staging', '--commit', commit, '--message', 'first release', '--wait'));
    assert.match(r.stdout, /^ {2}\S+Z {2}▶ ResolvePlan$/m);
    assert.match(r.stdout, /▶ Promote$/m);
    const done = /^✔ deployment (\S+) SUCCEEDED in .+: .*release (\w+) \("first release"\) is live on green/m.exec(r.stdout);
    assert.ok(done, r.stdout);
    assert.equal(done[2], commit.slice(0, 7));
    firstStaging = done[1]!;
    const record = (await t.twin.ledger.history(SERVICE, 'staging', 10)).find((x) => x.deploymentId === firstStaging);
    assert.equal(record?.status, 'succeeded');
    assert.deepEqual(record?.trigger, { source: 'cli', actor: 'ada' });

    const [status, statusJson, hist, histJson, detail] = await Promise.all([
      cli('status', SERVICE, 'staging'),
      cli('status', '--json'),
      cli('history', SERVICE, 'staging'),
      cli('history', SERVICE, 'staging', '--json', '--limit', '5'),
      cli('history', SERVICE, 'staging', '--deployment', firstStaging),
    ]);

    ok(status);
    assert.match(status.stdout, /^hello-world\/staging$/m);
    assert.match(status.stdout, new RegExp(`^ {2}live +green: release ${commit.slice(0, 7)}, .*deployment ${firstStaging}`, 'm'));
    assert.match(status.stdout, /^ {2}rollback +window open until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in \d+ \w+\): blue keeps/m);
    assert.match(status.stdout, /^ {2}running +nothing$/m);

    const all = JSON.parse(ok(statusJson).stdout) as Array<Record<string, any>>;
    assert.deepEqual(all.map((s) => `${s.service}/${s.environment}`), ['hello-world/staging'], 'only environments the ledger knows');
    assert.equal(all[0]!.live.slot, 'green');
    assert.equal(all[0]!.live.release.commit, commit);
    assert.equal(all[0]!.running, null);
    assert.equal(all[0]!.rollbackWindow.keptSlot, 'blue');

    ok(hist);
    assert.match(hist.stdout, /^ID +KIND +STATUS +COMMIT +TRIGGER +STARTED +DURATION +RESULT$/m);
    assert.match(
      hist.stdout,
      new RegExp(`^${firstStaging} +deploy +succeeded +${commit.slice(0, 7)} +cli:ada +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\((just now|\\d+ \\w+ ago)\\) +\\d+ (ms|s|min|h)( \\d+ (s|min))? +release ${commit.slice(0, 7)}`, 'm'),
    );

    const rows = JSON.parse(ok(histJson).stdout) as Array<Record<string, any>>;
    assert.equal(rows[0]!.deploymentId, firstStaging);
    assert.equal(rows[0]!.status, 'succeeded');
    assert.deepEqual(rows[0]!.trigger, { source: 'cli', actor: 'ada' });
    assert.ok(!('pk' in rows[0]!) && !('pendingTaskToken' in rows[0]!), 'no table keys or task tokens in --json');

    ok(detail);
    assert.match(detail.stdout, new RegExp(`^Deployment ${firstStaging} of hello-world/staging$`, 'm'));
    assert.match(detail.stdout, /^Audit timeline \(\d+ events, oldest first\)$/m);
    assert.match(detail.stdout, new RegExp(`operator-action +ada +ada started deployment ${firstStaging} of commit ${commit.slice(0, 7)} from the CLI`));
    assert.match(detail.stdout, /^Execution steps \(SUCCEEDED\)$/m);
    // Step times are the twin's simulated time (its Step Functions service runs on its clock).
    assert.match(detail.stdout, /^ResolvePlan +Task +\S+Z +t\+\d+ (ms|s|min)( \d+ s)? +\d+ (ms|s|min)\b/m);
    assert.match(detail.stdout, /^DeploymentSucceeded +Succeed /m);
  });

  it('`promote` during a long canary bake: the deployment succeeds at once, and its timeline names the operator', async () => {
    const commit = randomCommit();
    const started = JSON.parse(ok(await cli('deploy', SERVICE, 'production', '--commit', commit, '--json')).stdout) as { deploymentId: string; executionArn: string; accepted: boolean };
    assert.equal(started.accepted, true, 'deploy returns once the deployment holds the lock');
    await untilBaking(started.executionArn);

    // Answers the bake does not take: one line each, naming what it waits for and how to answer.
    const [approve, reject] = await Promise.all([cli('approve', SERVICE, 'production'), cli('reject', SERVICE, 'production', '--reason', 'not now')]);
    for (const r of [approve, reject]) {
      assert.match(oneErrorLine(r), new RegExp(`deployment ${started.deploymentId} of hello-world/production is not waiting for an approval.*it waits for the bake to end \\(.*baking at 10% for 86400 s.*\\); answer with: cutover promote hello-world production \\| cutover abort`));
    }

    const r = ok(await cliAs('grace', 'promote', SERVICE, 'production'));
    assert.match(r.stdout, new RegExp(`^Promoted deployment ${started.deploymentId} of hello-world/production now \\(grace\\)`, 'm'));
    const result = await t.twin.sfn.waitForExecution(started.executionArn);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(t.statesEntered({ executionArn: started.executionArn, name: started.deploymentId, input: undefined }).includes('PromoteNow'));
    assert.equal((await t.record({ executionArn: started.executionArn, name: started.deploymentId, input: undefined }))?.status, 'succeeded');
    const actions = (await timeline('production', started.deploymentId)).filter((e) => e.kind === 'operator-action' && e.actor === 'grace');
    assert.ok(
      actions.some((e) => /^grace promoted deployment \S+ now/.test(e.message) && e.detail?.action === 'promote' && e.detail?.deploymentId === started.deploymentId),
      `the CLI's audit event: ${JSON.stringify(actions)}`,
    );
    // Beside the declared name, who acted as the twin knows it: its access key id (on AWS, the STS caller ARN).
    assert.ok(actions.every((e) => e.caller === `access-key:${process.env.AWS_ACCESS_KEY_ID || 'local'}`), `the caller identity on each: ${JSON.stringify(actions.map((e) => e.caller))}`);
  });

  it('`abort` during a bake rolls the deployment back; the record and the cause carry the reason and the operator', async () => {
    const commit = randomCommit();
    const started = JSON.parse(ok(await cli('deploy', SERVICE, 'production', '--commit', commit, '--json')).stdout) as { deploymentId: string; executionArn: string };
    await untilBaking(started.executionArn);

    const r = ok(await cliAs('grace', 'abort', SERVICE, 'production', '--reason', 'checkout latency doubled'));
    assert.match(r.stdout, new RegExp(`^Aborted deployment ${started.deploymentId} of hello-world/production \\(grace\\): it rolls back now`, 'm'));
    const result = await t.twin.sfn.waitForExecution(started.executionArn);
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'Cutover.RolledBack');
    assert.match(result.cause!, /checkout latency doubled \(aborted by grace\)/);
    const record = await t.record({ executionArn: started.executionArn, name: started.deploymentId, input: undefined });
    assert.equal(record?.status, 'rolled-back');
    assert.match(record?.message ?? '', /checkout latency doubled \(aborted by grace\)/);
    const action = (await timeline('production', started.deploymentId)).find((e) => e.kind === 'operator-action' && e.actor === 'grace' && e.detail?.action === 'abort');
    assert.equal(action?.detail?.reason, 'checkout latency doubled');
    assert.equal(await t.lock(), undefined, 'the lock is released');
  });

  it('`retry` deploys a failed deployment\'s release again (and refuses a succeeded one)', async () => {
    const commit = randomCommit();
    // What the deployment runs: the image CI pushed, pinned by digest.
    const image = t.pushImage(commit, 'staging');
    t.sim.ecs.setImageHealth(image, 'crash');
    t.sim.ecs.setRunTaskOutcome(() => ({ exitCode: 0 }));
    const failed = await cli('deploy', SERVICE, 'staging', '--commit', commit, '--message', 'crashes on start', '--wait');
    assert.equal(failed.code, 1, `--wait exits 1 unless the deployment succeeded\n${failed.stdout}\n${failed.stderr}`);
    const failedId = /^✘ deployment (\S+) FAILED \(Cutover\.RolledBack\): /m.exec(failed.stdout)?.[1];
    assert.ok(failedId, failed.stdout);

    assert.match(oneErrorLine(await cli('retry', SERVICE, 'staging', firstStaging)), new RegExp(`deployment ${firstStaging} of hello-world/staging succeeded: there is nothing to retry`));

    t.sim.ecs.setImageHealth(image, 'healthy');
    const r = ok(await cli('retry', SERVICE, 'staging', failedId, '--wait'));
    const retriedId = /^✔ deployment (\S+) SUCCEEDED/m.exec(r.stdout)?.[1];
    assert.ok(retriedId && retriedId !== failedId, r.stdout);
    const record = (await t.twin.ledger.history(SERVICE, 'staging', 20)).find((x) => x.deploymentId === retriedId);
    assert.equal(record?.status, 'succeeded');
    assert.equal(record?.commit, commit);
    assert.equal(record?.image, image);
    assert.deepEqual(record?.trigger, { source: 'retry', actor: 'ada', of: failedId });
    const input = JSON.parse(t.twin.sfn.describeExecution({ executionArn: record!.executionArn }).input ?? '{}') as { release?: { message?: string } };
    assert.equal(input.release?.message, 'crashes on start', 'the same release message');
    const action = (await timeline('staging', retriedId)).find((e) => e.kind === 'operator-action');
    assert.equal(action?.detail?.of, failedId);
  });

  it('`approve` and `reject` with no running deployment: one line saying so, exit 1', async () => {
    const runs = await Promise.all([cli('approve', SERVICE, 'staging', '--comment', 'lgtm'), cli('reject', SERVICE, 'staging', '--reason', 'no')]);
    for (const r of runs) assert.match(oneErrorLine(r), /^cutover: no deployment of hello-world\/staging is running, so nothing waits for an operator/);
  });

  it('bad input: unknown service, missing --reason, a bad commit, an unreachable endpoint → one line, exit 1', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const [status, deploy, abort, commit, unreachable] = await Promise.all([
      cli('status', 'hello-wrld', 'production'),
      cli('deploy', 'hello-wrld', 'production', '--commit', randomCommit()),
      cli('abort', SERVICE, 'production'),
      cli('deploy', SERVICE, 'production', '--commit', 'HEAD'),
      runCutover(['status', '--endpoint', `http://127.0.0.1:${closedPort}`], 60_000),
    ]);
    assert.match(oneErrorLine(status), /nothing is known about hello-wrld\/production in the local twin at .*Known: hello-world\/production, hello-world\/staging\./);
    assert.match(oneErrorLine(deploy), /was refused \(Cutover\.InvalidInput\): service: "hello-wrld" is not configured; use one of: hello-world/);
    assert.match(oneErrorLine(abort), /required option '--reason <text>' not specified/);
    assert.match(oneErrorLine(commit), /--commit: use the git commit SHA \(7-40 lower-case hex characters\)/);
    assert.match(oneErrorLine(unreachable), /cannot reach the local twin at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): start it with `npm start`/);
  });
});

describe('e2e: approvers — `cutover approve` through the approval function URL (SigV4, the twin checks it)', () => {
  let t: TestTwin;
  before(async () => {
    const raw = sampleConfigJson() as { services: Record<string, { environments: Record<string, Record<string, unknown>> }> };
    const production = raw.services[SERVICE]!.environments.production!;
    production.approval = 'before-traffic';
    // On the twin an access key not in the account file is the IAM user of its name.
    production.approvers = ['arn:aws:iam::123456789012:user/alice'];
    production.databaseFailurePolicy = 'keep';
    production.strategy = { type: 'all-at-once' };
    t = await TestTwin.start({ config: parseConfig(raw, 'approvers e2e config') });
  });
  after(() => t?.stop());

  it('a principal who is not an approver is refused (exit 1, one line naming both); an approver approves and the deployment goes on', async () => {
    const as = (accessKeyId: string, operator: string, ...args: string[]) => runCutover([...args, '--endpoint', t.twin.url, '--operator', operator], 60_000, { AWS_ACCESS_KEY_ID: accessKeyId });
    const d = t.startDeployment();
    await t.waitFor('the approval wait', async () => ((await t.lock())?.pendingKind === 'approval' ? true : undefined), 30_000);

    const refused = await as('bob', 'bob', 'approve', SERVICE, 'production');
    assert.match(
      oneErrorLine(refused),
      /arn:aws:iam::123456789012:user\/bob is not an approver of hello-world\/production: its approvers are arn:aws:iam::123456789012:user\/alice\..*On the local twin the access key is the identity/,
    );
    assert.equal((await t.lock())?.pendingKind, 'approval', 'still waiting');

    const approved = ok(await as('alice', 'alice', 'approve', SERVICE, 'production', '--comment', 'reviewed'));
    assert.match(approved.stdout, /^Approved deployment \S+ of hello-world\/production as alice \(arn:aws:iam::123456789012:user\/alice\): it continues\.$/m);
    const result = await t.wait(d);
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const record = await t.record(d);
    assert.equal(record?.approval?.callerArn, 'arn:aws:iam::123456789012:user/alice');
    const events = await t.twin.ledger.timeline(SERVICE, 'production', { deploymentId: d.name });
    assert.ok(events.some((e) => e.kind === 'operator-action' && e.caller === 'arn:aws:iam::123456789012:user/bob' && /may not approve/.test(e.message)), 'the refusal is audited with the verified caller');
    assert.ok(events.some((e) => e.kind === 'operator-action' && e.caller === 'arn:aws:iam::123456789012:user/alice' && e.actor === 'alice' && /approved/.test(e.message)));
  });
});
