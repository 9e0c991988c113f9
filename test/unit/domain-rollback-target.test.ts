/**
 * chooseRollbackTarget (lib/domain/rollback-target.ts): a pure choice over the environment state and
 * the history — no clock, no I/O.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseRollbackTarget } from '../../lib/domain/rollback-target';
import type { DeploymentRecord } from '../../lib/domain/ledger-items';

const plan = { service: 's', environment: 'e', reason: '5xx', toDeployment: null as string | null };
const rec = (id: string, startedAt: string, over: Partial<DeploymentRecord> = {}): DeploymentRecord => ({
  pk: 'DEPLOYMENTS#s#e', sk: `${startedAt}#${id}`, deploymentId: id, executionArn: `arn:${id}`, service: 's', environment: 'e',
  status: 'succeeded', commit: id.repeat(40).slice(0, 40), image: `img:${id}`, trigger: { source: 'github-push' }, startedAt, kind: 'deploy', ...over,
});
const live = { deploymentId: '3', commit: '3'.repeat(40), slot: 'green' as const, startedAt: '2030-01-03T00:00:00Z', migrationsRan: true, snapshot: { identifier: 'snap-3' } };
const history = [rec('3', '2030-01-03T00:00:00Z'), rec('2', '2030-01-02T00:00:00Z', { rolledBackBy: 'rb-1' }), rec('1', '2030-01-01T00:00:00Z')];

describe('chooseRollbackTarget', () => {
  it('the window on the item → the kept slot, even past its until (the closer takes the lock before scaling down)', () => {
    const t = chooseRollbackTarget({ plan, environment: { current: live, rollbackWindow: { deploymentId: '3', keptSlot: 'blue', kept: { deploymentId: '2', slot: 'blue' }, until: '2000-01-01T00:00:00Z', seconds: 1 } }, history, actor: 'ada' });
    assert.equal(t.mode, 'kept-slot');
    assert.deepEqual(t.slots, { live: 'blue', idle: 'green' });
    assert.deepEqual(t.database, { restorable: true, snapshot: { identifier: 'snap-3' } });
  });

  it('no window → redeploy the last succeeded release before the live one that was not rolled back, all at once without migrations', () => {
    const t = chooseRollbackTarget({ plan, environment: { current: live }, history, actor: 'ada' });
    assert.equal(t.mode, 'redeploy');
    assert.equal(t.target.deploymentId, '1', 'skips 2, which a rollback already took production from');
    assert.deepEqual(t.deployInput, {
      service: 's', environment: 'e',
      release: { commit: '1'.repeat(40), image: 'img:1', migrations: false, message: 'rollback to 1111111: 5xx' },
      trigger: { source: 'rollback', actor: 'ada', of: '3', reason: '5xx' },
      strategy: { type: 'all-at-once', bakeSeconds: 0 },
    });
  });

  it('names the field and the fix for a bad toDeployment; nothing promoted → nothing to roll back', () => {
    assert.throws(() => chooseRollbackTarget({ plan: { ...plan, toDeployment: 'nope' }, environment: { current: live }, history, actor: 'a' }), { name: 'Cutover.InvalidInput', message: /^toDeployment: "nope" is not a succeeded deployment of s\/e; pick one from `cutover history s e`/ });
    assert.throws(() => chooseRollbackTarget({ plan: { ...plan, toDeployment: '3' }, environment: { current: live }, history, actor: 'a' }), /is the live release of s\/e already/);
    assert.throws(() => chooseRollbackTarget({ plan, environment: undefined, history: [], actor: 'a' }), { name: 'Cutover.NothingToRollBack' });
  });
});
