import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig, type Config } from '../../lib/config';
import { InvalidInputError } from '../../lib/domain/errors';
import {
  GREEN_CHECK_INTERVAL_SECONDS,
  MIGRATION_CHECK_INTERVAL_SECONDS,
  MIGRATION_MAX_CHECKS,
  migrationCheckIntervalSeconds,
  SNAPSHOT_CHECK_INTERVAL_SECONDS,
  SNAPSHOT_TIMEOUT_SECONDS,
  resolvePlan,
  resolveRollbackPlan,
  snapshotIdentifier,
  type PlanRequest,
} from '../../lib/domain/plan';

const SAMPLE = new URL('../fixtures/hello-world-production.json', import.meta.url);
const SHA = 'a'.repeat(40);
const EXECUTION = {
  id: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-1',
  name: 'run-1',
  startTime: '2024-05-01T12:00:00.000Z',
};

type Json = Record<string, any>;

/** The sample config plus a CodeCommit-driven service; `edit` changes the raw JSON before validation. */
function config(edit: (raw: Json) => void = () => {}): Config {
  const raw = JSON.parse(readFileSync(SAMPLE, 'utf8')) as Json;
  const hello = raw.services['hello-world'];
  raw.services['billing'] = {
    repository: { codecommit: 'billing-repo' },
    branches: { main: 'staging' },
    environments: { staging: structuredClone(hello.environments.production) },
  };
  edit(raw);
  return parseConfig(raw, 'test');
}

const request = (input: unknown, execution = EXECUTION): PlanRequest => ({ input, execution });
const explicit = (release: Json = { commit: SHA }, extra: Json = {}) =>
  request({ service: 'hello-world', environment: 'production', release, ...extra });

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String(err)}`);
    assert.equal(err.name, 'Cutover.InvalidInput');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('resolvePlan: explicit input', () => {
  it('resolves everything the state machine needs from the config', () => {
    // Prepare
    const cfg = config();
    const env = cfg.services['hello-world']!.environments.production!;
    // Act
    const plan = resolvePlan(cfg, explicit({ commit: SHA, message: 'Add users table' }));
    // Assess
    assert.equal(plan.deploymentId, 'run-1');
    assert.equal(plan.executionArn, EXECUTION.id);
    assert.equal(plan.startedAt, EXECUTION.startTime);
    assert.equal(plan.service, 'hello-world');
    assert.equal(plan.environment, 'production');
    assert.equal(plan.cluster, 'hello-world');
    assert.deepEqual(plan.slots, env.slots);
    assert.equal(plan.containerName, 'app');
    assert.deepEqual(plan.production, { kind: 'listener', arn: (env.production as { listenerArn: string }).listenerArn });
    assert.deepEqual(plan.test, { kind: 'listener', arn: (env.test as { listenerArn: string }).listenerArn });
    assert.deepEqual(plan.alarms, env.alarms);
    assert.deepEqual(plan.steps.map((s) => s.percent), [10, 100]);
    assert.equal(plan.stabilizationChecks, Math.ceil(600 / GREEN_CHECK_INTERVAL_SECONDS));
    assert.equal(plan.snapshotChecks, Math.ceil(SNAPSHOT_TIMEOUT_SECONDS / SNAPSHOT_CHECK_INTERVAL_SECONDS));
    assert.deepEqual(plan.trigger, { source: 'console' });
    assert.equal(plan.release.message, 'Add users table');
    assert.equal(plan.databaseFailurePolicy, 'approve');
    assert.deepEqual(plan.database, {
      kind: 'instance',
      identifier: 'hello-world-production',
      migrationCommand: ['npm', 'run', 'migrate'],
      migrationCheckIntervalSeconds: MIGRATION_CHECK_INTERVAL_SECONDS,
      migrationChecks: Math.ceil(1800 / MIGRATION_CHECK_INTERVAL_SECONDS),
      snapshotIdentifier: snapshotIdentifier('hello-world', 'production', 'run-1'),
    });
  });

  it('checks a long migration less often: at most MIGRATION_MAX_CHECKS checks, so the history stays under 25,000 events', () => {
    assert.equal(migrationCheckIntervalSeconds(1800), 10);
    assert.equal(migrationCheckIntervalSeconds(6_000), 10);
    assert.equal(migrationCheckIntervalSeconds(6_001), 11);
    assert.equal(migrationCheckIntervalSeconds(86_400), 144);
    for (const timeoutSeconds of [30, 1800, 6_000, 6_001, 43_210, 86_400]) {
      const cfg = config((raw: any) => (raw.services['hello-world'].environments.production.database.migration.timeoutSeconds = timeoutSeconds));
      const db = resolvePlan(cfg, explicit()).database!;
      assert.ok(db.migrationChecks <= MIGRATION_MAX_CHECKS, `${timeoutSeconds} s: ${db.migrationChecks} checks`);
      assert.ok(db.migrationChecks * db.migrationCheckIntervalSeconds >= timeoutSeconds, `${timeoutSeconds} s: the checks cover the timeout`);
      assert.ok((db.migrationChecks - 1) * db.migrationCheckIntervalSeconds < timeoutSeconds, `${timeoutSeconds} s: no check beyond the timeout`);
    }
  });

  it('defaults the image to <imageRepository>:<commit>', () => {
    const plan = resolvePlan(config(), explicit());
    assert.equal(plan.image, `123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world:${SHA}`);
  });

  it('uses release.image when given', () => {
    const plan = resolvePlan(config(), explicit({ commit: SHA, image: 'registry.example/app@sha256:abc' }));
    assert.equal(plan.image, 'registry.example/app@sha256:abc');
  });

  it('keeps the trigger given in the input', () => {
    const trigger = { source: 'github-push', actor: 'octocat', deliveryId: 'd-1' };
    const plan = resolvePlan(config(), explicit({ commit: SHA }, { trigger }));
    assert.deepEqual(plan.trigger, trigger);
  });

  it('a listener-rule route and an Aurora cluster resolve to kind rule / cluster; no test route → null', () => {
    const ruleArn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/hello-world/50dc6c495c0c9188/f2f7dc8efc522ab2/9a8b7c6d5e4f3a2b';
    const cfg = config((raw) => {
      const env = raw.services['hello-world'].environments.production;
      env.production = { ruleArn };
      delete env.test;
      delete env.verify;
      delete env.database.instanceIdentifier;
      env.database.clusterIdentifier = 'hello-aurora';
    });
    const plan = resolvePlan(cfg, explicit());
    assert.deepEqual(plan.production, { kind: 'rule', arn: ruleArn });
    assert.equal(plan.test, null);
    assert.equal(plan.database?.kind, 'cluster');
    assert.equal(plan.database?.identifier, 'hello-aurora');
  });

  it('an environment without a database runs no migrations and takes no snapshot', () => {
    const cfg = config((raw) => {
      const env = raw.services['hello-world'].environments.production;
      delete env.database;
      env.databaseFailurePolicy = 'keep';
    });
    const plan = resolvePlan(cfg, explicit({ commit: SHA, migrations: true }));
    assert.equal(plan.database, null);
    assert.equal(plan.runMigrations, false);
    assert.equal(plan.takeSnapshot, false);
    assert.equal(plan.release.migrations, false);
  });
});

describe('resolvePlan: CodeCommit input', () => {
  it('resolves service and environment through the repository and branch map', () => {
    const cc = { repositoryName: 'billing-repo', referenceName: 'main', commitId: SHA, callerUserArn: 'arn:aws:iam::123456789012:user/dev', eventId: 'ev-1' };
    const plan = resolvePlan(config(), request({ codecommit: cc }));
    assert.equal(plan.service, 'billing');
    assert.equal(plan.environment, 'staging');
    assert.equal(plan.release.commit, SHA);
    assert.equal(plan.release.ref, 'refs/heads/main');
    assert.equal(plan.release.migrations, true, 'unknown changes: migrations run');
    assert.deepEqual(plan.trigger, { source: 'codecommit', actor: cc.callerUserArn, deliveryId: 'ev-1' });
  });

  it('fails naming codecommit, the repository and the branch when the branch is not configured', () => {
    rejects(
      () => resolvePlan(config(), request({ codecommit: { repositoryName: 'billing-repo', referenceName: 'feature/x', commitId: SHA } })),
      /^codecommit: repository "billing-repo" branch "feature\/x" is not configured/,
    );
  });

  it('fails for an unknown repository', () => {
    rejects(
      () => resolvePlan(config(), request({ codecommit: { repositoryName: 'nope', referenceName: 'main', commitId: SHA } })),
      /repository "nope"/,
    );
  });

  it('fails for a short commit id, naming codecommit.commitId', () => {
    rejects(
      () => resolvePlan(config(), request({ codecommit: { repositoryName: 'billing-repo', referenceName: 'main', commitId: 'abc1234' } })),
      /codecommit\.commitId/,
    );
  });
});

describe('resolvePlan: bad input fails fast naming the field', () => {
  it('not an object', () => {
    for (const input of [null, 'hello', 42, [1]]) rejects(() => resolvePlan(config(), request(input)), /must be a JSON object/);
  });

  it('unknown service lists the configured ones', () => {
    rejects(
      () => resolvePlan(config(), request({ service: 'nope', environment: 'production', release: { commit: SHA } })),
      /^service: "nope" is not configured; use one of: hello-world, billing/,
    );
  });

  it('unknown environment lists the service’s environments', () => {
    rejects(
      () => resolvePlan(config(), request({ service: 'hello-world', environment: 'qa', release: { commit: SHA } })),
      /^environment: "qa" is not configured for service "hello-world"; use one of: production/,
    );
  });

  it('missing service names the field as required', () => {
    rejects(() => resolvePlan(config(), request({ environment: 'production', release: { commit: SHA } })), /service: required/);
  });

  it('a commit that is not a hex SHA names release.commit and the fix', () => {
    for (const commit of ['main', 'ABCDEF1', 'abc12', 'g'.repeat(40), 'a'.repeat(41)]) {
      rejects(() => resolvePlan(config(), explicit({ commit })), /release\.commit: use the git commit SHA/);
    }
  });

  it('an unknown top-level field is named', () => {
    rejects(() => resolvePlan(config(), explicit({ commit: SHA }, { strategies: 'canary' })), /unknown field\(s\) "strategies"/);
  });

  it('strategy is a known field: a malformed one is named by its path, not as unknown', () => {
    assert.throws(() => resolvePlan(config(), explicit({ commit: SHA }, { strategy: 'canary' })), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.match(err.message, /^Invalid input: strategy: /);
      assert.doesNotMatch(err.message, /unknown field/);
      return true;
    });
    rejects(() => resolvePlan(config(), explicit({ commit: SHA }, { strategy: { type: 'blue-green' } })), /strategy\.type: /);
    rejects(() => resolvePlan(config(), explicit({ commit: SHA }, { strategy: { type: 'canary', percent: 100, bakeSeconds: 60 } })), /strategy\.percent: a canary sends 1-99 percent/);
  });

  it('a field given with the wrong type is not called "required"', () => {
    rejects(() => resolvePlan(config(), explicit({ commit: SHA }, { strategy: 'canary' })), /^Invalid input: strategy: (?!required)/);
    rejects(() => resolvePlan(config(), request({ service: 'hello-world', environment: 'production', release: 'abc' })), /^Invalid input: release: (?!required)/);
  });

  it('an unknown release field is named with its path', () => {
    rejects(() => resolvePlan(config(), explicit({ commit: SHA, migration: true })), /release: unknown field\(s\) "migration"/);
  });
});

describe('resolvePlan: migrations and snapshots', () => {
  const withDb = (run: 'always' | 'when-changed', snapshot: 'before-migrations' | 'always' | 'never' = 'before-migrations') =>
    config((raw) => {
      const env = raw.services['hello-world'].environments.production;
      env.database.migration.run = run;
      env.database.snapshot = snapshot;
      if (snapshot === 'never') env.databaseFailurePolicy = 'keep';
    });

  const cases: Array<[run: 'always' | 'when-changed', migrations: boolean | undefined, runs: boolean]> = [
    ['always', false, true],
    ['always', true, true],
    ['always', undefined, true],
    ['when-changed', false, false],
    ['when-changed', true, true],
    ['when-changed', undefined, true],
  ];
  for (const [run, migrations, runs] of cases) {
    it(`run "${run}" with release.migrations ${migrations} → ${runs ? 'runs' : 'skips'} the migration`, () => {
      const release = migrations === undefined ? { commit: SHA } : { commit: SHA, migrations };
      const plan = resolvePlan(withDb(run), explicit(release));
      assert.equal(plan.runMigrations, runs);
      assert.equal(plan.release.migrations, runs);
    });
  }

  const snapshotCases: Array<[policy: 'before-migrations' | 'always' | 'never', migrationsRun: boolean, takes: boolean]> = [
    ['before-migrations', true, true],
    ['before-migrations', false, false],
    ['always', true, true],
    ['always', false, true],
    ['never', true, false],
    ['never', false, false],
  ];
  for (const [policy, migrationsRun, takes] of snapshotCases) {
    it(`snapshot "${policy}" when migrations ${migrationsRun ? 'run' : 'are skipped'} → takeSnapshot ${takes}`, () => {
      const plan = resolvePlan(withDb('when-changed', policy), explicit({ commit: SHA, migrations: migrationsRun }));
      assert.equal(plan.runMigrations, migrationsRun);
      assert.equal(plan.takeSnapshot, takes);
    });
  }
});

describe('snapshotIdentifier', () => {
  const valid = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]$/;

  it('is deterministic per deployment and differs between deployments', () => {
    const a = snapshotIdentifier('hello-world', 'production', 'run-1');
    assert.equal(a, snapshotIdentifier('hello-world', 'production', 'run-1'));
    assert.notEqual(a, snapshotIdentifier('hello-world', 'production', 'run-2'));
    assert.match(a, /^cutover-hello-world-production-[0-9a-f]{10}$/);
  });

  it('stays ≤ 63 chars with no double hyphen and no trailing hyphen for the longest names', () => {
    const service = `a${'-b'.repeat(19)}c`; // 40 chars, hyphens at the cut points
    const environment = `e${'-'.repeat(10)}f${'x'.repeat(28)}`;
    const deploymentId = 'x'.repeat(80);
    for (const [s, e] of [
      [service, environment],
      ['s'.repeat(40), 'e'.repeat(40)],
      ['abcdefghijklmnopqrs-tuvwxyz', 'abcdefghijk-lmno'],
    ] as const) {
      const id = snapshotIdentifier(s, e, deploymentId);
      assert.ok(id.length <= 63, `${id} is ${id.length} chars`);
      assert.match(id, valid, id);
    }
  });

  it('the plan carries the same identifier a retry computes', () => {
    const a = resolvePlan(config(), explicit());
    const b = resolvePlan(config(), explicit());
    assert.equal(a.database!.snapshotIdentifier, b.database!.snapshotIdentifier);
  });
});

describe('resolvePlan: strategy override, approval gate, rollback window', () => {
  const env = (edit: (e: Json) => void) => config((raw) => edit(raw.services['hello-world'].environments.production));

  it('defaults: the environment\'s strategy, no approval gate, a 1800 s rollback window', () => {
    const plan = resolvePlan(config(), explicit());
    assert.deepEqual(plan.steps.map((s) => [s.percent, s.bakeSeconds]), [[10, 300], [100, 0]]);
    assert.deepEqual(plan.approval, { gate: 'none', timeoutSeconds: 86_400, beforeStepIndex: -1 });
    assert.equal(plan.rollbackWindowSeconds, 1800);
  });

  it('the input\'s strategy replaces the environment\'s for this deployment only', () => {
    const once = resolvePlan(config(), explicit({ commit: SHA }, { strategy: { type: 'all-at-once' } }));
    assert.deepEqual(once.steps.map((s) => [s.percent, s.bakeSeconds]), [[100, 0]]);
    const linear = resolvePlan(config(), explicit({ commit: SHA }, { strategy: { type: 'linear', stepPercent: 25, stepBakeSeconds: 60 } }));
    assert.deepEqual(linear.steps.map((s) => [s.percent, s.bakeSeconds]), [[25, 60], [50, 60], [75, 60], [100, 0]]);
    assert.deepEqual(resolvePlan(config(), explicit()).steps.map((s) => s.percent), [10, 100], 'without it: the environment\'s canary');
  });

  it('approval before-traffic waits before step 0, with the configured timeout', () => {
    const plan = resolvePlan(env((e) => { e.approval = 'before-traffic'; e.approvalTimeoutSeconds = 3600; }), explicit());
    assert.deepEqual(plan.approval, { gate: 'before-traffic', timeoutSeconds: 3600, beforeStepIndex: 0 });
  });

  it('approval before-promote waits before the last step (the one to 100%)', () => {
    const cfg = env((e) => { e.approval = 'before-promote'; });
    assert.equal(resolvePlan(cfg, explicit()).approval.beforeStepIndex, 1, 'canary 10% → 100%');
    const linear = resolvePlan(cfg, explicit({ commit: SHA }, { strategy: { type: 'linear', stepPercent: 25, stepBakeSeconds: 60 } }));
    assert.equal(linear.approval.beforeStepIndex, 3);
    assert.equal(linear.steps[linear.approval.beforeStepIndex]!.percent, 100);
    const once = resolvePlan(cfg, explicit({ commit: SHA }, { strategy: { type: 'all-at-once' } }));
    assert.equal(once.approval.beforeStepIndex, 0, 'a single step: before it');
    assert.equal(once.approval.gate, 'before-promote');
  });

  it('approval none → beforeStepIndex -1; rollbackWindowSeconds comes from the environment (0 allowed)', () => {
    const plan = resolvePlan(env((e) => { e.approval = 'none'; e.rollbackWindowSeconds = 0; }), explicit());
    assert.equal(plan.approval.beforeStepIndex, -1);
    assert.equal(plan.rollbackWindowSeconds, 0);
    assert.equal(resolvePlan(env((e) => { e.rollbackWindowSeconds = 600; }), explicit()).rollbackWindowSeconds, 600);
  });

  it('a rollback\'s redeploy (trigger.source rollback): no alarms, no migrations, no approval gate, no rollback window', () => {
    const cfg = env((e) => {
      e.approval = 'before-traffic';
      e.rollbackWindowSeconds = 900;
      e.database.migration.run = 'always';
    });
    const trigger = { source: 'rollback', actor: 'alice', of: 'run-7', reason: '5xx after the release' };
    const plan = resolvePlan(cfg, explicit({ commit: SHA, migrations: true }, { trigger, strategy: { type: 'all-at-once', bakeSeconds: 0 } }));
    assert.deepEqual(plan.alarms, []);
    assert.equal(plan.runMigrations, false);
    assert.equal(plan.release.migrations, false);
    assert.equal(plan.takeSnapshot, false, 'snapshot before-migrations: no migration, no snapshot');
    assert.deepEqual(plan.approval, { gate: 'none', timeoutSeconds: cfg.services['hello-world']!.environments.production!.approvalTimeoutSeconds, beforeStepIndex: -1 });
    assert.equal(plan.rollbackWindowSeconds, 0);
    assert.deepEqual(plan.trigger, trigger);
    assert.deepEqual(plan.steps.map((s) => s.percent), [100]);
    // The same input from an operator keeps all of them.
    const normal = resolvePlan(cfg, explicit({ commit: SHA, migrations: true }, { trigger: { source: 'cli', actor: 'alice' } }));
    assert.ok(normal.alarms.length > 0);
    assert.equal(normal.runMigrations, true);
    assert.equal(normal.approval.gate, 'before-traffic');
    assert.equal(normal.rollbackWindowSeconds, 900);
  });
});

describe('resolveRollbackPlan', () => {
  const ROLLBACK_EXECUTION = {
    id: 'arn:aws:states:us-east-1:123456789012:execution:cutover-rollback:rb-1',
    name: 'rb-1',
    startTime: '2024-05-02T08:00:00.000Z',
  };
  const rollback = (input: unknown): PlanRequest => ({ kind: 'rollback', input, execution: ROLLBACK_EXECUTION });
  const base = { service: 'hello-world', environment: 'production', reason: '5xx after the release' };

  it('resolves where the service runs and what was asked, with defaults', () => {
    const cfg = config();
    const env = cfg.services['hello-world']!.environments.production!;
    const plan = resolveRollbackPlan(cfg, rollback(base));
    assert.equal(plan.kind, 'rollback');
    assert.equal(plan.deploymentId, 'rb-1');
    assert.equal(plan.executionArn, ROLLBACK_EXECUTION.id);
    assert.equal(plan.startedAt, ROLLBACK_EXECUTION.startTime);
    assert.equal(plan.service, 'hello-world');
    assert.equal(plan.environment, 'production');
    assert.equal(plan.cluster, 'hello-world');
    assert.deepEqual(plan.slots, env.slots);
    assert.deepEqual(plan.production, { kind: 'listener', arn: (env.production as { listenerArn: string }).listenerArn });
    assert.deepEqual(plan.test, { kind: 'listener', arn: (env.test as { listenerArn: string }).listenerArn });
    assert.deepEqual(plan.alarms, env.alarms);
    assert.equal(plan.database?.identifier, 'hello-world-production');
    assert.equal(plan.database?.snapshotIdentifier, snapshotIdentifier('hello-world', 'production', 'rb-1'));
    assert.equal(plan.databaseFailurePolicy, 'approve');
    assert.equal(plan.reason, '5xx after the release');
    assert.equal(plan.toDeployment, null, 'default: the kept slot or the last known good release');
    assert.deepEqual(plan.trigger, { source: 'console' }, 'default trigger: the console');
  });

  it('keeps toDeployment and the trigger given', () => {
    const trigger = { source: 'alarm', actor: 'alarm:hello-world-production-5xx', deliveryId: 'ev-1' };
    const plan = resolveRollbackPlan(config(), rollback({ ...base, toDeployment: 'run-3', trigger }));
    assert.equal(plan.toDeployment, 'run-3');
    assert.deepEqual(plan.trigger, trigger);
  });

  it('a bad shape fails fast naming the field', () => {
    for (const input of [null, 'roll back', 7, []]) rejects(() => resolveRollbackPlan(config(), rollback(input)), /must be a JSON object like \{"service":"hello-world","environment":"production","reason":/);
    rejects(() => resolveRollbackPlan(config(), rollback({ service: 'hello-world', environment: 'production' })), /^Invalid input: reason: /);
    rejects(() => resolveRollbackPlan(config(), rollback({ ...base, reason: '   ' })), /reason: say why you roll back/);
    rejects(() => resolveRollbackPlan(config(), rollback({ ...base, service: '' })), /^Invalid input: service: name the service to roll back/);
    rejects(() => resolveRollbackPlan(config(), rollback({ ...base, environment: '' })), /^Invalid input: environment: name the environment/);
    rejects(() => resolveRollbackPlan(config(), rollback({ ...base, release: { commit: SHA } })), /unknown field\(s\) "release"/);
    rejects(() => resolveRollbackPlan(config(), rollback({ ...base, trigger: { source: 'github-push' } })), /trigger\.source: /);
  });

  it('an unknown service or environment is named with the configured ones', () => {
    rejects(() => resolveRollbackPlan(config(), rollback({ ...base, service: 'nope' })), /^service: "nope" is not configured; use one of: hello-world, billing/);
    rejects(
      () => resolveRollbackPlan(config(), rollback({ ...base, environment: 'qa' })),
      /^environment: "qa" is not configured for service "hello-world"; use one of: production/,
    );
  });
});
