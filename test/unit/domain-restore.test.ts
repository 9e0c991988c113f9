import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CONFIGURE_ATTEMPTS, nextRestoreAction, restoreNames, type Observed } from '../../lib/domain/restore';

const A = { status: 'available' };
const busy = (status: string) => ({ status });
const RDS_ID = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}$/;

describe('nextRestoreAction: the restore-and-swap sequence', () => {
  const sequence: Array<[string, Observed, ReturnType<typeof nextRestoreAction>]> = [
    ['nothing restored yet', { original: A }, { do: 'restore', phase: 'restoring' }],
    ['nothing at all', {}, { do: 'restore', phase: 'restoring' }],
    ['restored instance still creating', { original: A, restored: busy('creating') }, { do: 'wait', phase: 'restoring' }],
    ['restored available, original in place', { original: A, restored: A }, { do: 'rename-original-aside', phase: 'renaming-original' }],
    ['original renaming aside', { restored: A, aside: busy('renaming') }, { do: 'wait', phase: 'renaming-original' }],
    ['old name still visible while the aside exists', { original: busy('renaming'), restored: A, aside: A }, { do: 'wait', phase: 'renaming-original' }],
    ['aside available, original name free', { restored: A, aside: A }, { do: 'rename-restored-into-place', phase: 'renaming-restored' }],
    ['restored renaming into place', { original: busy('renaming'), aside: A }, { do: 'wait', phase: 'renaming-restored' }],
    ['restored available under the original name', { original: A, aside: A }, { do: 'done', phase: 'done' }],
  ];
  for (const [what, observed, expected] of sequence) {
    it(`${what} → ${expected.do} (${expected.phase})`, () => {
      assert.deepEqual(nextRestoreAction(observed), expected);
    });
  }

  it('an unexpected state waits rather than acting', () => {
    assert.deepEqual(nextRestoreAction({ aside: A }), { do: 'wait', phase: 'unknown' });
    assert.deepEqual(nextRestoreAction({ restored: A }), { do: 'wait', phase: 'unknown' });
  });

  it('restored available but lacking settings the restore could not take → configure it before the swap', () => {
    assert.deepEqual(nextRestoreAction({ original: A, restored: { ...A, missingSettings: ['MonitoringInterval'] } }), { do: 'configure-restored', phase: 'configuring' });
    assert.deepEqual(nextRestoreAction({ original: A, restored: { ...A, missingSettings: [] } }), { do: 'rename-original-aside', phase: 'renaming-original' });
  });

  it('a restored database being modified (its settings) is the configuring phase', () => {
    assert.deepEqual(nextRestoreAction({ original: A, restored: busy('modifying'), configureAttempts: 1 }), { do: 'wait', phase: 'configuring' });
  });

  it(`after ${MAX_CONFIGURE_ATTEMPTS} attempts the swap goes on without the settings that never showed`, () => {
    const o: Observed = { original: A, restored: { ...A, missingSettings: ['MaxAllocatedStorage'] }, configureAttempts: MAX_CONFIGURE_ATTEMPTS };
    assert.deepEqual(nextRestoreAction(o), { do: 'rename-original-aside', phase: 'renaming-original' });
  });

  it('settings are never applied once the swap began (aside exists)', () => {
    const o: Observed = { restored: { ...A, missingSettings: ['MonitoringInterval'] }, aside: A };
    assert.deepEqual(nextRestoreAction(o), { do: 'rename-restored-into-place', phase: 'renaming-restored' });
  });

  it('never issues restore once an aside copy exists (the swap already began)', () => {
    for (const o of [{ aside: A }, { aside: A, original: A }, { aside: busy('renaming') }] as Observed[]) {
      assert.notEqual(nextRestoreAction(o).do, 'restore');
    }
  });
});

describe('restoreNames', () => {
  it('derives restored and aside names from the original and the deployment', () => {
    const n = restoreNames('hello-world-production', 'run-1');
    assert.equal(n.original, 'hello-world-production');
    assert.match(n.restored, /^hello-world-production-restored-[0-9a-f]{6}$/);
    assert.match(n.aside, /^hello-world-production-pre-[0-9a-f]{6}$/);
    assert.deepEqual(restoreNames('hello-world-production', 'run-1'), n, 'deterministic');
    assert.notEqual(restoreNames('hello-world-production', 'run-2').restored, n.restored);
  });

  it('short originals give valid RDS identifiers', () => {
    for (const original of ['db', 'a'.repeat(40), `${'a'.repeat(47)}`]) {
      const n = restoreNames(original, 'run-1');
      assert.match(n.restored, RDS_ID, n.restored);
      assert.match(n.aside, RDS_ID, n.aside);
    }
  });

  for (const length of [48, 49, 63]) {
    it(`a ${length}-char original gives restored / aside names of ≤ 63 chars`, () => {
      const n = restoreNames('d'.repeat(length), 'run-1');
      assert.ok(n.restored.length <= 63, `restored ${n.restored.length} chars`);
      assert.ok(n.aside.length <= 63, `aside ${n.aside.length} chars`);
      assert.match(n.restored, RDS_ID);
      assert.match(n.aside, RDS_ID);
    });
  }

  it('trims a trailing hyphen at the cut so there is no double hyphen', () => {
    const original = `ab${'-b'.repeat(30)}`; // 62 chars; every even index from 2 on is a hyphen, so the cut ends on one
    const n = restoreNames(original, 'run-1');
    for (const name of [n.restored, n.aside]) {
      assert.match(name, RDS_ID, name);
      assert.ok(name.length <= 63, `${name} is ${name.length} chars`);
      assert.ok(original.startsWith(name.replace(/-(restored|pre)-[0-9a-f]{6}$/, '')), name);
    }
  });
});
