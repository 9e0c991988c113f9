/**
 * The operator CLI's text output (lib/cli/format.ts and the renderers of lib/cli/commands.ts): aligned
 * tables, ISO + relative times, durations, shortening — and how history and status read. Pure.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { duration, fields, isoSeconds, relativeTime, shorten, table, when, width } from '../../lib/cli/format';
import { questionSummary, renderHistory, renderStatus, triggerText, waitActions, type EnvironmentStatus } from '../../lib/cli/commands';
import type { DeploymentRow } from '../../lib/cli/schemas';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

describe('cli format: table', () => {
  it('aligns columns under their headers, two spaces apart, right-aligns numeric columns, trims line ends', () => {
    const out = table(
      [{ header: 'ID' }, { header: 'STATUS' }, { header: 'DURATION', align: 'right' }, { header: 'NOTE' }],
      [
        ['a1', 'succeeded', '42 s', ''],
        ['b22222', 'rolled-back', '3 min 5 s', 'alarm'],
      ],
    );
    assert.equal(
      out,
      ['ID      STATUS        DURATION  NOTE', 'a1      succeeded         42 s', 'b22222  rolled-back  3 min 5 s  alarm'].join('\n'),
    );
  });

  it('counts a multi-byte character (…, ✔, →) as one column and makes cells one line', () => {
    const out = table([{ header: 'A' }, { header: 'B' }], [['✔ ok…', 'x'], ['line one\nline two', 'y']]);
    const lines = out.split('\n');
    assert.equal(lines[1], '✔ ok…              x');
    assert.equal(lines[2], 'line one line two  y');
    assert.equal(width('→…✔'), 3);
  });

  it('indents every line when asked', () => {
    assert.equal(table([{ header: 'H' }], [['v']], '  '), '  H\n  v');
  });
});

describe('cli format: fields', () => {
  it('aligns labels, skips empty values, continues multi-line values under the value column', () => {
    assert.equal(
      fields([
        ['live', 'green'],
        ['waits for', undefined],
        ['act', 'cutover promote x y\ncutover abort x y --reason <text>'],
      ]),
      ['  live  green', '  act   cutover promote x y', '        cutover abort x y --reason <text>'].join('\n'),
    );
  });
});

describe('cli format: times and durations', () => {
  it('relative times: just now, seconds, minutes, hours, days, and the future', () => {
    assert.equal(relativeTime(ago(400), NOW), 'just now');
    assert.equal(relativeTime(ago(42_000), NOW), '42 s ago');
    assert.equal(relativeTime(ago(3 * 60_000 + 10_000), NOW), '3 min ago');
    assert.equal(relativeTime(ago(2 * 3_600_000), NOW), '2 h ago');
    assert.equal(relativeTime(ago(3 * 86_400_000), NOW), '3 d ago');
    assert.equal(relativeTime(ago(-25 * 60_000), NOW), 'in 25 min');
    assert.equal(relativeTime('not a time', NOW), '—');
  });

  it('`when` is ISO-8601 to the second plus the relative phrase; nothing gives —', () => {
    assert.equal(when(ago(3 * 60_000), NOW), '2026-03-01T11:57:00Z (3 min ago)');
    assert.equal(when(undefined, NOW), '—');
    assert.equal(isoSeconds(new Date('2026-03-01T10:04:05.678Z')), '2026-03-01T10:04:05Z');
  });

  it('durations: ms, s, min + s, h + min, d + h; negative or unknown is —', () => {
    assert.equal(duration(850), '850 ms');
    assert.equal(duration(42_000), '42 s');
    assert.equal(duration(192_000), '3 min 12 s');
    assert.equal(duration(180_000), '3 min');
    assert.equal(duration(2 * 3_600_000 + 5 * 60_000), '2 h 5 min');
    assert.equal(duration(26 * 3_600_000), '1 d 2 h');
    assert.equal(duration(-1), '—');
    assert.equal(duration(Number.NaN), '—');
  });

  it('shorten cuts to the width with … and flattens whitespace', () => {
    assert.equal(shorten('short', 10), 'short');
    assert.equal(shorten('a fairly long message\nover two lines', 12), 'a fairly lo…');
    assert.equal(width(shorten('x'.repeat(200), 80)), 80);
  });
});

const record = (over: Partial<DeploymentRow>): DeploymentRow =>
  ({
    deploymentId: 'd-1',
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:d-1',
    service: 'hello-world',
    environment: 'production',
    status: 'succeeded',
    commit: '0123456789abcdef0123456789abcdef01234567',
    image: 'repo:0123456',
    trigger: { source: 'cli', actor: 'ada' },
    startedAt: ago(10 * 60_000),
    finishedAt: ago(2 * 60_000),
    message: 'hello-world/production: release 0123456 is live on green with 100% of production traffic.',
    ...over,
  }) as DeploymentRow;

describe('cli history table', () => {
  it('one row per record: id, kind, status, short commit, trigger, started (ISO + relative), duration, result without the env prefix', () => {
    const out = renderHistory(
      [
        record({ deploymentId: 'd-2', status: 'rolled-back', error: 'Cutover.RolledBack', trigger: { source: 'retry', actor: 'ada', of: 'd-0' }, message: 'hello-world/production: release 0123456 was rolled back: checkout latency (aborted by grace).' }),
        record({ deploymentId: 'd-1' }),
        record({ deploymentId: 'r-1', kind: 'rollback', commit: '-', reason: '5xx after the release', finishedAt: undefined, startedAt: ago(30_000), status: 'in-progress', message: undefined }),
      ],
      NOW,
    );
    const lines = out.split('\n');
    assert.match(lines[0]!, /^ID +KIND +STATUS +COMMIT +TRIGGER +STARTED +DURATION +RESULT$/);
    assert.match(lines[1]!, /^d-2 +deploy +rolled-back +0123456 +retry:ada \(of d-0\) +2026-03-01T11:50:00Z \(10 min ago\) +8 min +Cutover\.RolledBack: release 0123456 was rolled back: checkout latency \(aborted by grace\)\.$/);
    assert.match(lines[2]!, /^d-1 +deploy +succeeded +0123456 +cli:ada .* +8 min +release 0123456 is live on green/);
    assert.match(lines[3]!, /^r-1 +rollback +in-progress +— +cli:ada .*\(30 s ago\) +30 s so far +reason: 5xx after the release\. running$/);
    const durationColumn = lines[0]!.indexOf('DURATION') + 'DURATION'.length;
    for (const line of lines.slice(1)) assert.equal(line[durationColumn - 1] !== ' ', true, `durations are right-aligned: ${line}`);
  });

  it('trigger text: source, actor, the deployment retried', () => {
    assert.equal(triggerText({ source: 'github-push', actor: 'octocat' }), 'github-push:octocat');
    assert.equal(triggerText({ source: 'console' }), 'console');
    assert.equal(triggerText(undefined), '—');
  });
});

describe('cli status', () => {
  const ref = { service: 'hello-world', environment: 'production' };
  const question =
    'hello-world/production: deployment d-3 is baking at 10% for 300 s; an alarm rolls it back at once. Promote now: SendTaskSuccess {"action":"promote-now","operator":"<name>"}. Abort: SendTaskFailure with error "Cutover.Aborted" and your reason.';

  it('the pending question without the raw Step Functions instructions', () => {
    assert.equal(questionSummary(question, ref), 'deployment d-3 is baking at 10% for 300 s; an alarm rolls it back at once.');
    assert.equal(questionSummary('Answer with SendTaskSuccess {"decision":"keep"}.'), 'Answer with SendTaskSuccess {"decision":"keep"}.', 'never empty');
  });

  it('the commands that answer each kind of wait', () => {
    assert.deepEqual(waitActions(ref, 'bake'), ['cutover promote hello-world production', 'cutover abort hello-world production --reason <text>']);
    assert.deepEqual(waitActions(ref, 'approval'), ['cutover approve hello-world production [--comment <text>]', 'cutover reject hello-world production --reason <text>']);
    assert.deepEqual(waitActions(ref, 'database-decision'), ['cutover approve hello-world production --decision restore', 'cutover approve hello-world production --decision keep']);
  });

  it('live release, open window, the running deployment, its state, what it waits for and how to act', () => {
    const s: EnvironmentStatus = {
      ...ref,
      live: { slot: 'green', release: { slot: 'green', commit: '0123456789abcdef', deploymentId: 'd-1', promotedAt: ago(3_600_000), source: 'github-push' } },
      rollbackWindow: { deploymentId: 'd-1', keptSlot: 'blue', kept: { slot: 'blue', commit: 'fedcba9876543210' }, until: ago(-25 * 60_000), seconds: 1800, open: true },
      running: {
        deploymentId: 'd-3',
        executionArn: 'arn:…:d-3',
        purpose: 'deploy',
        commit: 'abcdef0123456789',
        since: ago(5 * 60_000),
        trigger: 'cli:ada',
        execution: { status: 'RUNNING', state: 'Bake', stateEnteredAt: ago(60_000) },
        waitingFor: { kind: 'bake', question, until: ago(-4 * 60_000), actions: waitActions(ref, 'bake') },
        actions: waitActions(ref, 'bake'),
        abortRequested: null,
      },
      last: { deploymentId: 'd-1', kind: 'deploy', status: 'succeeded', commit: '0123456789abcdef', startedAt: ago(7_200_000), finishedAt: ago(3_600_000), error: null, message: 'ok' },
      queued: { deploymentId: 'd-4', commit: '4444444abcdef', startedAt: ago(120_000) },
      offered: null,
    };
    assert.equal(
      renderStatus(s, NOW),
      [
        'hello-world/production',
        '  live       green: release 0123456 (deployment d-1, via github-push, live since 2026-03-01T11:00:00Z (1 h ago))',
        '  rollback   window open until 2026-03-01T12:25:00Z (in 25 min): blue keeps release fedcba9 running; roll back at once with cutover rollback hello-world production --reason <text>',
        '  running    deployment d-3, commit abcdef0, since 2026-03-01T11:55:00Z (5 min ago), by cli:ada',
        '  state      Bake (entered 2026-03-01T11:59:00Z (1 min ago))',
        '  waits for  the bake to end: deployment d-3 is baking at 10% for 300 s; an alarm rolls it back at once.',
        '  until      2026-03-01T12:04:00Z (in 4 min): then the alarms are checked once more and traffic moves on',
        '  act        cutover promote hello-world production',
        '             cutover abort hello-world production --reason <text>',
        '  queued     deployment d-4, commit 4444444, pushed 2026-03-01T11:58:00Z (2 min ago): deploys when the lock is released, unless a newer push comes first',
        '  last       deployment d-1 succeeded, commit 0123456, finished 2026-03-01T11:00:00Z (1 h ago)',
      ].join('\n'),
    );
  });

  it('a running rollback: no rollback command offered; a release offered for promotion, and how to promote it', () => {
    const s: EnvironmentStatus = {
      ...ref,
      live: { slot: 'blue', release: { slot: 'blue', commit: '1111111abcdef', deploymentId: 'd-1', promotedAt: ago(60_000), source: 'rollback' } },
      rollbackWindow: { deploymentId: 'd-2', keptSlot: 'blue', until: ago(-25 * 60_000), seconds: 1800, open: true },
      running: {
        deploymentId: 'rb-1',
        executionArn: 'arn:…:rb-1',
        purpose: 'rollback',
        commit: '1111111abcdef',
        since: ago(120_000),
        trigger: 'cli:ada',
        execution: { status: 'RUNNING', state: 'AwaitDatabaseDecision', stateEnteredAt: ago(60_000) },
        waitingFor: null,
        actions: [],
        abortRequested: null,
      },
      last: null,
      queued: null,
      offered: { deploymentId: 'st-7', fromEnvironment: 'staging', commit: '7777777abcdef', image: 'repo@sha256:abc', offeredAt: ago(30_000), command: 'cutover promote-release hello-world production' },
    };
    const text = renderStatus(s, NOW);
    assert.match(text, /\n  rollback   rollback rb-1 is running \(see below\); the live row shows where production traffic is now\n/);
    assert.doesNotMatch(text, /cutover rollback /, 'no second rollback is offered while one runs');
    assert.match(text, /\n  offered    release 7777777 succeeded in staging \(deployment st-7, [^)]+\)\): promote the same image repo@sha256:abc with cutover promote-release hello-world production/);
  });

  it('nothing running, no window, a stale lock', () => {
    const s: EnvironmentStatus = {
      ...ref,
      live: null,
      rollbackWindow: null,
      running: {
        deploymentId: 'd-9',
        executionArn: 'arn:…:d-9',
        purpose: 'deploy',
        commit: null,
        since: ago(60_000),
        trigger: null,
        execution: { status: 'ABORTED', state: null, stateEnteredAt: null },
        waitingFor: null,
        actions: [],
        abortRequested: null,
      },
      last: null,
      queued: null,
      offered: null,
    };
    const out = renderStatus(s, NOW);
    assert.match(out, /^ {2}live +no release deployed by cutover yet$/m);
    assert.match(out, /^ {2}rollback +no window open/m);
    assert.match(out, /^ {2}running +nothing \(a stale lock of deploy d-9 remains: its execution is ABORTED; the next deployment reclaims it\)$/m);
  });
});
