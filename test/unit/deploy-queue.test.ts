/** lib/domain/deploy-queue.ts: the newest push wins; a holder still at a gate is superseded; answers of the webhook. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideQueue, holderIsSupersededBy, isNewerPush, LOCK_WAIT_MAX_SECONDS, pushAnswer, supersededCause } from '../../lib/domain/deploy-queue';

const at = (iso: string, id: string, commit = 'c'.repeat(40)) => ({ deploymentId: id, startedAt: iso, commit });
const T0 = '2026-12-05T10:00:00.000Z';
const T1 = '2026-12-05T10:01:00.000Z';
const T2 = '2026-12-05T10:02:00.000Z';
const holder = (over: Record<string, unknown> = {}) => ({ deploymentId: 'h', acquiredAt: T0, startedAt: T0, purpose: 'deploy' as const, ...over });

describe('deploy queue', () => {
  it('orders pushes by execution start time, then by id', () => {
    assert.equal(isNewerPush(at(T1, 'a'), at(T0, 'b')), true);
    assert.equal(isNewerPush(at(T0, 'b'), at(T1, 'a')), false);
    assert.equal(isNewerPush(at(T0, 'b'), at(T0, 'a')), true, 'same instant: the id decides, the same way for both');
    assert.equal(isNewerPush(at(T0, 'a'), at(T0, 'b')), false);
    // Times in other offsets compare as instants.
    assert.equal(isNewerPush(at('2026-12-05T11:00:30+01:00', 'a'), at(T0, 'b')), true);
  });

  it('queues into an empty queue; replaces an older queued push', () => {
    assert.deepEqual(decideQueue(at(T1, 'me'), undefined, holder(), new Date(T2)), { action: 'queue', supersedeHolder: false });
    const older = at(T0, 'old');
    assert.deepEqual(decideQueue(at(T1, 'me'), older, holder(), new Date(T2)), { action: 'queue', replaces: older, supersedeHolder: false });
  });

  it('is superseded by a newer push already queued', () => {
    const newer = at(T2, 'new');
    assert.deepEqual(decideQueue(at(T1, 'me'), newer, holder(), new Date(T2)), { action: 'superseded', by: newer });
  });

  it('a later round of the same deployment stays queued (it is the queued one)', () => {
    assert.deepEqual(decideQueue(at(T1, 'me'), at(T1, 'me'), holder(), new Date(T2)), { action: 'queue', supersedeHolder: false });
  });

  it('gives up after LOCK_WAIT_MAX_SECONDS waited since its start', () => {
    const late = new Date(Date.parse(T1) + LOCK_WAIT_MAX_SECONDS * 1000);
    assert.deepEqual(decideQueue(at(T1, 'me'), undefined, holder(), late), { action: 'give-up', waitedSeconds: LOCK_WAIT_MAX_SECONDS });
    assert.equal(decideQueue(at(T1, 'me'), undefined, holder(), new Date(late.getTime() - 1000)).action, 'queue');
  });

  it('supersedes an older holder waiting at a gate (image, scan, checks), never one that changes things', () => {
    for (const kind of ['image', 'scan', 'checks'] as const) assert.equal(holderIsSupersededBy(holder({ pendingKind: kind }), at(T1, 'me')), true, kind);
    for (const kind of ['bake', 'approval', 'database-decision'] as const) assert.equal(holderIsSupersededBy(holder({ pendingKind: kind }), at(T1, 'me')), false, kind);
    assert.equal(holderIsSupersededBy(holder(), at(T1, 'me')), false, 'not waiting: it is changing things');
    assert.equal(holderIsSupersededBy(holder({ pendingKind: 'image', purpose: 'rollback' }), at(T1, 'me')), false, 'a rollback is never superseded');
    assert.equal(holderIsSupersededBy(holder({ pendingKind: 'image', startedAt: T2 }), at(T1, 'me')), false, 'a newer holder is not superseded by an older push');
    assert.equal(holderIsSupersededBy(undefined, at(T1, 'me')), false);
    assert.equal(decideQueue(at(T1, 'me'), undefined, holder({ pendingKind: 'image' }), new Date(T2)).action, 'queue');
    assert.deepEqual(decideQueue(at(T1, 'me'), undefined, holder({ pendingKind: 'image' }), new Date(T2)), { action: 'queue', supersedeHolder: true });
  });

  it('says who superseded whom and that nothing changed', () => {
    const text = supersededCause(at(T0, 'old', 'a'.repeat(40)), at(T1, 'new', 'b'.repeat(40)), 'image');
    assert.equal(text, 'deployment old of aaaaaaa was superseded by the newer push new of bbbbbbb while it waited for its image; nothing was changed (the newest push deploys)');
  });

  it('answers the webhook: started, or queued behind the holder', () => {
    assert.deepEqual(pushAnswer('arn:me', undefined), { executionArn: 'arn:me', status: 'started', message: 'deployment started' });
    assert.equal(pushAnswer('arn:me', { deploymentId: 'me', executionArn: 'arn:me', commit: 'x' }).status, 'started');
    const q = pushAnswer('arn:me', { deploymentId: 'r1', executionArn: 'arn:r1', commit: '1234567890', purpose: 'rollback' });
    assert.equal(q.status, 'queued');
    assert.equal(q.message, 'queued behind rollback r1 (1234567): it deploys when that ends, unless a newer push comes first');
  });
});
