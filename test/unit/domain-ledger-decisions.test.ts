/**
 * Time-dependent decisions over the ledger's items (lib/domain/ledger-decisions.ts): pure functions
 * of the items and a time given as input — so every case here states its own `now` / `firedAt`, and
 * none depends on today's date or the machine's clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideAlarmAction,
  decideWindowBusy,
  WINDOW_BUSY_GIVE_UP_SECONDS,
  eventTime,
  isLockReclaimable,
  isRollbackWindowOpen,
  minutesSince,
  parseEventTime,
  pendingWindow,
  rollbackWindowUntil,
  type AlarmDecisionInput,
} from '../../lib/domain/ledger-decisions';
import { LedgerItemError, LockItemSchema, EnvironmentStateSchema, DeploymentRecordSchema, parseLedgerItem } from '../../lib/domain/ledger-items';

const T = (iso: string) => new Date(iso);
const WINDOW = { deploymentId: 'run-3', keptSlot: 'blue' as const, until: '2031-05-01T10:30:00.000Z', seconds: 1800 };
const LIVE = { deploymentId: 'run-3', commit: '3'.repeat(40), slot: 'green' as const, source: 'github-push' };
const LOCK = { deploymentId: 'd-1', purpose: 'deploy' as const, pendingKind: 'bake' as const, pendingTaskToken: 'tok' };

function decide(over: Partial<AlarmDecisionInput>) {
  return decideAlarmAction({ lock: undefined, environment: { current: LIVE, rollbackWindow: WINDOW }, alarmAfterWindow: 'notify', firedAt: T('2031-05-01T10:10:00Z'), ...over });
}

describe('event times', () => {
  it('parses CloudWatch\'s offset without a colon, ISO with Z, and refuses garbage', () => {
    assert.equal(parseEventTime('2026-11-21T10:00:00.000+0000'), Date.UTC(2026, 10, 21, 10));
    assert.equal(parseEventTime('2026-11-21T12:00:00.000+0200'), Date.UTC(2026, 10, 21, 10));
    assert.equal(parseEventTime('2026-11-21T10:00:00Z'), Date.UTC(2026, 10, 21, 10));
    assert.equal(parseEventTime('yesterday'), undefined);
    assert.equal(parseEventTime(undefined), undefined);
  });

  it('an event is judged by when it happened: the first time that parses, the clock only as a fallback', () => {
    const clock = T('2040-01-01T00:00:00Z');
    assert.equal(eventTime(['2026-11-21T10:00:00.000+0000', '2026-11-21T10:05:00Z'], clock).toISOString(), '2026-11-21T10:00:00.000Z');
    assert.equal(eventTime([undefined, '2026-11-21T10:05:00Z'], clock).toISOString(), '2026-11-21T10:05:00.000Z');
    assert.equal(eventTime(['nonsense', undefined], clock).toISOString(), '2040-01-01T00:00:00.000Z');
  });
});

describe('rollback window', () => {
  it('is open strictly before its until, over at and after it, absent when there is none', () => {
    assert.equal(isRollbackWindowOpen(WINDOW, T('2031-05-01T10:29:59.999Z')), true);
    assert.equal(isRollbackWindowOpen(WINDOW, T('2031-05-01T10:30:00.000Z')), false);
    assert.equal(isRollbackWindowOpen(WINDOW, Date.UTC(2032, 0, 1)), false);
    assert.equal(isRollbackWindowOpen(undefined, T('2031-05-01T10:00:00Z')), false);
  });

  it('an until that does not parse counts as open (its closer decides), never silently over', () => {
    assert.equal(isRollbackWindowOpen({ until: 'soon' }, T('2099-01-01T00:00:00Z')), true);
  });

  it('closes its length after the promotion', () => {
    assert.equal(rollbackWindowUntil(T('2031-05-01T10:00:00Z'), 1800), '2031-05-01T10:30:00.000Z');
    assert.equal(rollbackWindowUntil(T('2031-05-01T10:00:00Z'), -5), '2031-05-01T10:00:00.000Z');
  });
});

describe('callback waits and the data-loss window', () => {
  it('a wait entered at now with a timeout ends at now + timeout; without one it has no end', () => {
    assert.deepEqual(pendingWindow(T('2031-05-01T10:00:00Z'), 300), { pendingSince: '2031-05-01T10:00:00.000Z', pendingUntil: '2031-05-01T10:05:00.000Z' });
    assert.deepEqual(pendingWindow(T('2031-05-01T10:00:00Z')), { pendingSince: '2031-05-01T10:00:00.000Z' });
  });

  it('minutes since a snapshot: rounded, never negative (a clock that disagrees says nothing)', () => {
    assert.equal(minutesSince('2031-05-01T10:00:00.000Z', T('2031-05-01T10:07:40Z')), 8);
    assert.equal(minutesSince('2031-05-01T10:00:00.000Z', T('2031-05-01T09:00:00Z')), undefined);
    assert.equal(minutesSince(undefined, T('2031-05-01T09:00:00Z')), undefined);
  });

  it('a lock is reclaimable only when its holder execution no longer runs', () => {
    for (const s of ['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT', 'MISSING']) assert.equal(isLockReclaimable(s), true, s);
    for (const s of ['RUNNING', 'PENDING_REDRIVE', undefined]) assert.equal(isLockReclaimable(s), false, String(s));
  });
});

describe('the alarm decision', () => {
  it('a deployment in a bake or approval wait: fail that wait', () => {
    assert.deepEqual(decide({ lock: LOCK }), { kind: 'fail-wait', wait: 'bake', taskToken: 'tok', deploymentId: 'd-1' });
    assert.deepEqual(decide({ lock: { ...LOCK, pendingKind: 'approval' } }), { kind: 'fail-wait', wait: 'approval', taskToken: 'tok', deploymentId: 'd-1' });
  });

  it('a deployment in no such wait, or in a database decision: nothing (it checks alarms itself)', () => {
    assert.deepEqual(decide({ lock: { ...LOCK, pendingKind: 'database-decision' } }), { kind: 'not-baking', deploymentId: 'd-1' });
    assert.deepEqual(decide({ lock: { deploymentId: 'd-1' } }), { kind: 'not-baking', deploymentId: 'd-1' });
    assert.deepEqual(decide({ lock: { ...LOCK, pendingTaskToken: undefined } }), { kind: 'not-baking', deploymentId: 'd-1' });
  });

  it('a rollback or the window closer holds the lock: leave it alone, whatever its pending fields say', () => {
    assert.deepEqual(decide({ lock: { ...LOCK, purpose: 'rollback' } }), { kind: 'rollback-running', deploymentId: 'd-1', purpose: 'rollback' });
    assert.deepEqual(decide({ lock: { ...LOCK, purpose: 'rollback-window' } }), { kind: 'rollback-running', deploymentId: 'd-1', purpose: 'rollback-window' });
  });

  it('nothing runs and the alarm fired inside the window: roll back to the kept slot — even when it arrives much later', () => {
    // Fired at 10:10, inside the window that closes at 10:30; when it is handled does not matter.
    assert.deepEqual(decide({}), { kind: 'start-rollback', how: 'kept-slot', keptSlot: 'blue', deploymentId: 'run-3' });
  });

  it('fired after the window: notify (default) or redeploy (opt-in)', () => {
    const firedAt = T('2031-05-01T10:30:00Z');
    assert.deepEqual(decide({ firedAt }), { kind: 'notify', why: 'window-over', deploymentId: 'run-3' });
    assert.deepEqual(decide({ firedAt, alarmAfterWindow: 'redeploy' }), { kind: 'start-rollback', how: 'redeploy', deploymentId: 'run-3' });
    assert.deepEqual(decide({ environment: { current: LIVE }, alarmAfterWindow: 'redeploy' }), { kind: 'start-rollback', how: 'redeploy', deploymentId: 'run-3' });
  });

  it('the live release is a rollback\'s redeploy: notify only, even inside its own window (its kept slot holds the bad release)', () => {
    const environment = { current: { ...LIVE, source: 'rollback' }, rollbackWindow: WINDOW };
    assert.deepEqual(decide({ environment }), { kind: 'notify', why: 'live-is-rollback', deploymentId: 'run-3' });
    assert.deepEqual(decide({ environment, alarmAfterWindow: 'redeploy', firedAt: T('2031-06-01T00:00:00Z') }), { kind: 'notify', why: 'live-is-rollback', deploymentId: 'run-3' });
  });

  it('nothing promoted and nothing running: nothing', () => {
    assert.deepEqual(decide({ environment: undefined }), { kind: 'no-deployment' });
    assert.deepEqual(decide({ environment: { rollbackWindow: WINDOW } }), { kind: 'no-deployment' });
  });
});

describe('the ledger item model', () => {
  const lock = { pk: 'LOCK#s#e', sk: 'LOCK', deploymentId: 'd-1', executionArn: 'arn:x', acquiredAt: '2031-05-01T10:00:00.000Z', commit: 'abc' };

  it('parses what cutover writes and keeps fields a newer cutover adds', () => {
    const parsed = parseLedgerItem(LockItemSchema, { ...lock, pendingKind: 'bake', futureField: 42 }, 'the lock');
    assert.equal(parsed.pendingKind, 'bake');
    assert.equal((parsed as Record<string, unknown>).futureField, 42);
  });

  it('refuses an item that is not what cutover writes, naming the item, the field and the problem', () => {
    assert.throws(() => parseLedgerItem(LockItemSchema, { ...lock, acquiredAt: undefined }, 'the lock of s/e'), (err: Error) => {
      assert.ok(err instanceof LedgerItemError);
      assert.equal(err.name, 'Cutover.CorruptLedgerItem');
      assert.match(err.message, /^the lock of s\/e in the ledger table is not what cutover writes \(acquiredAt: /);
      return true;
    });
    assert.throws(() => parseLedgerItem(LockItemSchema, { ...lock, pendingKind: 'nap' }, 'the lock'), /pendingKind/);
    assert.throws(() => parseLedgerItem(EnvironmentStateSchema, { pk: 'ENV#s#e', sk: 'STATE', liveSlot: 'purple', updatedAt: 'x' }, 'the state'), /liveSlot/);
    assert.throws(
      () => parseLedgerItem(DeploymentRecordSchema, { pk: 'D', sk: 'x', deploymentId: 'd', executionArn: 'a', service: 's', environment: 'e', status: 'maybe', commit: 'c', image: 'i', trigger: { source: 'cli' }, startedAt: 't' }, 'the record'),
      /status/,
    );
  });
});

describe('decideWindowBusy (the rollback window closer while another execution holds the lock)', () => {
  const ended = T('2031-05-01T10:30:00Z');
  const after = (s: number) => new Date(ended.getTime() + s * 1000);
  it('tries again in 60 s at first, then a tenth of the time busy, at most 1 h', () => {
    assert.deepEqual(decideWindowBusy(ended, ended), { kind: 'retry', retryInSeconds: 60 });
    assert.deepEqual(decideWindowBusy(ended, after(599)), { kind: 'retry', retryInSeconds: 60 });
    assert.deepEqual(decideWindowBusy(ended, after(7200)), { kind: 'retry', retryInSeconds: 720 });
    assert.deepEqual(decideWindowBusy(ended, after(23 * 3600)), { kind: 'retry', retryInSeconds: 3600 });
    assert.deepEqual(decideWindowBusy(ended, after(-30)), { kind: 'retry', retryInSeconds: 60 }, 'a clock behind the window end');
  });
  it('gives up after 24 h busy', () => {
    assert.deepEqual(decideWindowBusy(ended, after(WINDOW_BUSY_GIVE_UP_SECONDS)), { kind: 'give-up', busySeconds: 86_400 });
  });
  it('following its own answers, the closer tries fewer than 80 times before it gives up (~9 history events each)', () => {
    let t = 0;
    let tries = 0;
    for (;;) {
      tries++;
      const d = decideWindowBusy(ended, after(t));
      if (d.kind === 'give-up') break;
      t += d.retryInSeconds;
    }
    assert.ok(tries < 80, `${tries} tries`);
    assert.ok(t >= WINDOW_BUSY_GIVE_UP_SECONDS && t < WINDOW_BUSY_GIVE_UP_SECONDS + 3600);
  });
});
