/**
 * What real AWS Step Functions does with these definitions, checked statically on the three files:
 * every Lambda task retries the errors AWS recommends retrying, and no execution can time out (an
 * execution timeout cannot be caught: the lock stays held, traffic may stay split, nothing is recorded).
 */
import { SMOKE_MAX_CHECKS } from '../../lib/domain/smoke';
import { LOCK_WAIT_MAX_SECONDS, LOCK_WAIT_ROUND_SECONDS } from '../../lib/domain/deploy-queue';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { STATE_MACHINES, stateMachineFile } from '../../lib/catalog';
import { DatabaseSchema, EnvironmentSchema, StrategySchema, type Strategy } from '../../lib/config/schema';
import { childExecutionName, GREEN_CHECK_INTERVAL_SECONDS, MIGRATION_MAX_CHECKS, migrationCheckIntervalSeconds, SNAPSHOT_CHECK_INTERVAL_SECONDS, SNAPSHOT_TIMEOUT_SECONDS } from '../../lib/domain/plan';
import { decideWindowBusy, WINDOW_BUSY_GIVE_UP_SECONDS, WINDOW_BUSY_MAX_RETRY_SECONDS } from '../../lib/domain/ledger-decisions';
import { trafficSteps } from '../../lib/domain/traffic-plan';

type State = { Type: string; Resource?: string; Retry?: Array<{ ErrorEquals: string[] }>; TimeoutSeconds?: number; TimeoutSecondsPath?: string; Seconds?: number; Iterator?: Asl; ItemProcessor?: Asl; Branches?: Asl[] };
type Asl = { StartAt: string; States: Record<string, State>; TimeoutSeconds?: number };
const load = (file: string) => JSON.parse(readFileSync(stateMachineFile(file), 'utf8')) as Asl;

/** Errors AWS recommends retrying for Lambda tasks (Step Functions developer guide, "Handle transient Lambda service exceptions"). */
const LAMBDA_RETRY = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'Lambda.ClientExecutionTimeoutException'];

function* states(asl: Asl): Generator<[string, State]> {
  for (const [name, s] of Object.entries(asl.States)) {
    yield [name, s];
    for (const inner of [s.Iterator, s.ItemProcessor, ...(s.Branches ?? [])]) if (inner) yield* states(inner);
  }
}
const isLambdaTask = (s: State) => s.Type === 'Task' && /:lambda:|FunctionArn/.test(s.Resource ?? '') ;

describe('AWS limits of the state machines', () => {
  for (const sm of STATE_MACHINES) {
    const asl = load(sm.file);

    it(`${sm.file}: every Lambda task retries ${LAMBDA_RETRY.length} Lambda service errors, Lambda.ClientExecutionTimeoutException included`, () => {
      const lambdaTasks = [...states(asl)].filter(([, s]) => isLambdaTask(s));
      assert.ok(lambdaTasks.length > 0);
      for (const [name, s] of lambdaTasks) {
        const retried = (s.Retry ?? []).flatMap((r) => r.ErrorEquals);
        assert.deepEqual(LAMBDA_RETRY.filter((e) => !retried.includes(e) && !retried.includes('States.ALL')), [], `${sm.file} ${name}`);
      }
    });

    it(`${sm.file}: every callback or .sync task has a timeout (else it waits up to a year)`, () => {
      for (const [name, s] of states(asl)) {
        if (s.Type !== 'Task' || !/\.(waitForTaskToken|sync(:2)?)$/.test(s.Resource ?? '')) continue;
        assert.ok(s.TimeoutSeconds !== undefined || s.TimeoutSecondsPath !== undefined, `${sm.file} ${name} has TimeoutSeconds(Path)`);
      }
    });
  }

  it('names the executions it starts deterministically and within 80 characters: <SHA-1 hex of the parent execution name>-<suffix>, computed by the plan', () => {
    const deploy = [...states(load('deploy.asl.json'))].find(([n]) => n === 'StartRollbackWindow')![1] as State & { Parameters: Record<string, string> };
    const redeploy = [...states(load('rollback.asl.json'))].find(([n]) => n === 'Redeploy')![1] as State & { Parameters: Record<string, string> };
    assert.equal(deploy.Parameters['Name.$'], '$.plan.rollbackWindowExecutionName');
    assert.equal(redeploy.Parameters['Name.$'], '$.plan.redeployExecutionName');
    const longest = 'x'.repeat(80);
    for (const suffix of ['window', 'redeploy']) {
      const name = childExecutionName(longest, suffix);
      assert.equal(name, `${createHash('sha1').update(longest).digest('hex')}-${suffix}`);
      assert.ok(name.length <= 80 && /^[0-9A-Za-z_-]+$/.test(name), name);
      assert.equal(childExecutionName(longest, suffix), name, 'deterministic');
    }
  });

  it('no execution times out before its longest configured wait ends: worst cases from the config schema maxima and the ASL fit each TimeoutSeconds', () => {
    const H = 3600;
    const D = 24 * H;
    // Config schema maxima (lib/config/schema.ts), each checked: the maximum is accepted, one more is refused.
    const env = EnvironmentSchema.shape;
    const maxOf = (what: string, schema: { safeParse: (v: unknown) => { success: boolean } }, max: number) => {
      assert.ok(schema.safeParse(max).success && !schema.safeParse(max + 1).success, `${what}: the schema's maximum is ${max}`);
      return max;
    };
    const approval = maxOf('approvalTimeoutSeconds', env.approvalTimeoutSeconds, 604_800);
    const stabilization = maxOf('stabilizationTimeoutSeconds', env.stabilizationTimeoutSeconds, 7_200);
    const migration = maxOf('database.migration.timeoutSeconds', DatabaseSchema.shape.migration.shape.timeoutSeconds, 86_400);
    const window = maxOf('rollbackWindowSeconds', env.rollbackWindowSeconds, 604_800);
    const imageWait = maxOf('imageTimeoutSeconds', env.imageTimeoutSeconds, 86_400);
    const scanWait = maxOf('scan.waitSeconds', { safeParse: (v) => env.scan.safeParse({ maxSeverity: 'HIGH', waitSeconds: v }) }, 86_400);
    const bake = maxOf('a bake', { safeParse: (v) => StrategySchema.safeParse({ type: 'all-at-once', bakeSeconds: v }) }, 86_400);
    // The longest traffic plan any valid strategy gives (linear 1% is 99 bakes, not the 20 of `steps`).
    const strategies = [
      { type: 'all-at-once', bakeSeconds: bake },
      { type: 'canary', percent: 1, bakeSeconds: bake },
      ...Array.from({ length: 100 }, (_, i) => ({ type: 'linear', stepPercent: i + 1, stepBakeSeconds: bake })),
      { type: 'steps', steps: Array.from({ length: 20 }, (_, i) => ({ percent: i === 19 ? 100 : i + 1, bakeSeconds: bake })) },
    ].map((x) => StrategySchema.parse(x) as Strategy);
    assert.ok(!StrategySchema.safeParse({ type: 'steps', steps: Array.from({ length: 21 }, (_, i) => ({ percent: i === 20 ? 100 : i + 1, bakeSeconds: 0 })) }).success, 'at most 20 steps');
    const plans = strategies.map((x) => trafficSteps(x));
    const maxSteps = Math.max(...plans.map((p) => p.length));
    const maxBakes = Math.max(...plans.map((p) => p.reduce((sum, step) => sum + step.bakeSeconds, 0)));

    // Read from the ASL: a poll loop's iteration is its Wait plus its check task's TimeoutSeconds.
    const deploy = load('deploy.asl.json');
    const st = (asl: Asl, name: string) => [...states(asl)].find(([n]) => n === name)![1];
    const iteration = (asl: Asl, wait: string, check: string) => st(asl, wait).Seconds! + st(asl, check).TimeoutSeconds!;
    const lambdaTasks = (asl: Asl) => [...states(asl)].filter(([, s]) => isLambdaTask(s) && !/waitForTaskToken/.test(s.Resource ?? '') && s.TimeoutSeconds !== undefined).reduce((sum, [, s]) => sum + s.TimeoutSeconds!, 0);
    const restoreChecks = Number(/const RESTORE_CHECKS = (\d+);/.exec(readFileSync('lambdas/database/handler.ts', 'utf8'))![1]);
    const snapshotLoop = Math.ceil(SNAPSHOT_TIMEOUT_SECONDS / SNAPSHOT_CHECK_INTERVAL_SECONDS) * iteration(deploy, 'WaitForSnapshot', 'CheckSnapshot');
    const greenLoop = Math.ceil(stabilization / GREEN_CHECK_INTERVAL_SECONDS) * iteration(deploy, 'WaitForGreen', 'CheckGreen');
    const migrationInterval = migrationCheckIntervalSeconds(migration);
    const migrationLoop = Math.ceil(migration / migrationInterval) * (migrationInterval + st(deploy, 'CheckMigration').TimeoutSeconds!);
    const restoreLoop = restoreChecks * (st(deploy, 'WaitForRestore').Seconds! + st(deploy, 'RestoreSnapshot').TimeoutSeconds!);
    const perStep = st(deploy, 'ShiftTraffic').TimeoutSeconds! + st(deploy, 'CheckAlarms').TimeoutSeconds!;
    const slack = 6 * H; // retries' backoff and Lambda calls retried after a timeout
    // Queued behind another execution (WaitForLock): at most LOCK_WAIT_MAX_SECONDS, then one more round.
    const lockRounds = Math.ceil(LOCK_WAIT_MAX_SECONDS / st(deploy, 'WaitForLock').TimeoutSeconds!) + 1;
    assert.equal(st(deploy, 'WaitForLock').TimeoutSeconds, LOCK_WAIT_ROUND_SECONDS);
    const lockWait = LOCK_WAIT_MAX_SECONDS + st(deploy, 'WaitForLock').TimeoutSeconds! + lockRounds * st(deploy, 'AcquireLock').TimeoutSeconds!;
    // Verification: up to 10 rounds of HTTP checks (each up to VerifyTest's TimeoutSeconds, 60 s apart) before
    // traffic and as many at 100%, and the smoke-test command's task (up to 3,600 s, checked SMOKE_MAX_CHECKS times).
    const verifyRounds = 10;
    const verifyWait = 2 * verifyRounds * (st(deploy, 'VerifyTest').TimeoutSeconds! + 60) + 3_600 + SMOKE_MAX_CHECKS * st(deploy, 'CheckSmokeTest').TimeoutSeconds!;
    const deployWorst = verifyWait + lockWait + imageWait + scanWait + approval + maxBakes + maxSteps * perStep + snapshotLoop + migrationLoop + greenLoop + st(deploy, 'AwaitDatabaseDecision').TimeoutSeconds! + restoreLoop + lambdaTasks(deploy) + slack;

    // The rollback's Redeploy is a deploy of one all-at-once step without bake, migrations or gate.
    const rollback = load('rollback.asl.json');
    const redeploy = st(rollback, 'Redeploy');
    const redeployWorst = snapshotLoop + greenLoop + perStep + lambdaTasks(deploy) + slack;
    assert.ok(redeploy.TimeoutSeconds! >= redeployWorst, `Redeploy: TimeoutSeconds ${redeploy.TimeoutSeconds} < worst case ${redeployWorst}`);
    const rollbackWorst = redeploy.TimeoutSeconds! + st(rollback, 'AwaitDatabaseDecision').TimeoutSeconds! + restoreChecks * (st(rollback, 'WaitForRestore').Seconds! + st(rollback, 'RestoreSnapshot').TimeoutSeconds!) + lambdaTasks(rollback) + slack;
    // The closer tries again while another execution holds the lock, for at most 24 h (+ its last wait).
    const windowWorst = window + WINDOW_BUSY_GIVE_UP_SECONDS + WINDOW_BUSY_MAX_RETRY_SECONDS + lambdaTasks(load('rollback-window.asl.json')) + slack;

    const timeout = (file: string) => load(file).TimeoutSeconds ?? 365 * D;
    for (const [file, worst] of [['deploy.asl.json', deployWorst], ['rollback.asl.json', rollbackWorst], ['rollback-window.asl.json', windowWorst]] as const) {
      assert.ok(timeout(file) >= worst, `${file}: TimeoutSeconds ${timeout(file)} (${(timeout(file) / D).toFixed(1)} d) < worst case ${worst} (${(worst / D).toFixed(1)} d)`);
      assert.ok(timeout(file) <= 365 * D, `${file}: Standard workflows run at most one year`);
    }
  });
});

describe("Step Functions' 25,000-event history limit", () => {
  // Events a state writes to the history each time it runs (Step Functions developer guide, history
  // event types): a Lambda Task 5 (TaskStateEntered, LambdaFunctionScheduled/Started/Succeeded,
  // TaskStateExited), a .waitForTaskToken Task 6 (TaskScheduled, TaskStarted, TaskSubmitted, then
  // TaskSucceeded/Failed/TimedOut), any other state 2 (entered, exited).
  const eventsOf = (s: State) => (s.Type === 'Task' ? (/waitForTaskToken/.test(s.Resource ?? '') ? 6 : 5) : 2);
  const LIMIT = 25_000;
  const MARGIN = 1.2; // retries (3 events per retried attempt), the execution's own start/end events

  it('no execution can pass it: every poll loop is bounded and the worst path stays below 25,000 / 1.2', () => {
    const deploy = load('deploy.asl.json');
    const st = (asl: Asl, name: string) => {
      const found = [...states(asl)].find(([n]) => n === name);
      assert.ok(found, `state ${name}`);
      return found[1];
    };
    const loop = (asl: Asl, names: string[]) => names.reduce((sum, n) => sum + eventsOf(st(asl, n)), 0);
    const once = (asl: Asl) => [...states(asl)].reduce((sum, [, s]) => sum + eventsOf(s), 0); // every state at most once outside the loops
    const env = EnvironmentSchema.shape;
    assert.ok(!env.stabilizationTimeoutSeconds.safeParse(7_201).success && !DatabaseSchema.shape.migration.shape.timeoutSeconds.safeParse(86_401).success);
    const restoreChecks = Number(/const RESTORE_CHECKS = (\d+);/.exec(readFileSync('lambdas/database/handler.ts', 'utf8'))![1]);
    const migrationChecks = Math.ceil(86_400 / migrationCheckIntervalSeconds(86_400));
    assert.ok(migrationChecks <= MIGRATION_MAX_CHECKS);
    const maxSteps = Math.max(...Array.from({ length: 100 }, (_, i) => trafficSteps(StrategySchema.parse({ type: 'linear', stepPercent: i + 1, stepBakeSeconds: 60 }) as Strategy).length), 20);
    const lockRounds = Math.ceil(LOCK_WAIT_MAX_SECONDS / LOCK_WAIT_ROUND_SECONDS) + 1;
    const deployWorst =
      once(deploy) +
      lockRounds * loop(deploy, ['AcquireLock', 'QueueOrRefuse', 'WaitForLock']) +
      10 * loop(deploy, ['VerifyTest', 'VerifyTestResult', 'WaitBeforeVerifyTest']) +
      10 * loop(deploy, ['VerifyProduction', 'VerifyProductionResult', 'WaitBeforeVerifyProduction']) +
      SMOKE_MAX_CHECKS * loop(deploy, ['WaitForSmokeTest', 'CheckSmokeTest', 'SmokeTestResult']) +
      Math.ceil(SNAPSHOT_TIMEOUT_SECONDS / SNAPSHOT_CHECK_INTERVAL_SECONDS) * loop(deploy, ['WaitForSnapshot', 'CheckSnapshot', 'SnapshotReady']) +
      migrationChecks * loop(deploy, ['WaitForMigration', 'CheckMigration', 'MigrationResult']) +
      Math.ceil(7_200 / GREEN_CHECK_INTERVAL_SECONDS) * loop(deploy, ['WaitForGreen', 'CheckGreen', 'GreenStable']) +
      maxSteps * loop(deploy, ['ApprovalGate', 'ShiftTraffic', 'BakeNeeded', 'Bake', 'BakeAnswer', 'CheckAlarms', 'AlarmFiring', 'MoreSteps', 'PromoteNow']) +
      restoreChecks * loop(deploy, ['WaitForRestore', 'RestoreSnapshot', 'RestoreDone']);
    const rollback = load('rollback.asl.json');
    const rollbackWorst = once(rollback) + restoreChecks * loop(rollback, ['WaitForRestore', 'RestoreSnapshot', 'RestoreDone']);
    const window = load('rollback-window.asl.json');
    let tries = 0;
    for (let t = 0; decideWindowBusy(0, t * 1000).kind === 'retry'; tries++) t += (decideWindowBusy(0, t * 1000) as { retryInSeconds: number }).retryInSeconds;
    const windowWorst = once(window) + (tries + 1) * loop(window, ['CloseWindow', 'ScaleDownNeeded', 'WaitWhileBusy']);
    for (const [file, worst] of [['deploy.asl.json', deployWorst], ['rollback.asl.json', rollbackWorst], ['rollback-window.asl.json', windowWorst]] as const) {
      assert.ok(worst * MARGIN <= LIMIT, `${file}: up to ${worst} history events (x${MARGIN} = ${Math.round(worst * MARGIN)}) > ${LIMIT}`);
    }
  });
});

describe('operator answers cannot crash a Choice', () => {
  it('each DatabaseDecision compares the answer only when it is present and a string', () => {
    for (const file of ['deploy.asl.json', 'rollback.asl.json']) {
      const choice = [...states(load(file))].find(([n]) => n === 'DatabaseDecision')![1] as State & { Choices: Array<{ And?: Array<Record<string, unknown>> }> };
      const and = choice.Choices[0]!.And ?? [];
      assert.ok(and.some((c) => c.IsPresent === true) && and.some((c) => c.IsString === true), `${file}: guarded`);
    }
  });
});
