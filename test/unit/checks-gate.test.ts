import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checksEventCommit, decideChecks, type CheckRunLike, type CommitStatusLike } from '../../lib/domain/checks-gate';
import { examples } from '../helpers/github';

const SHA = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const run = (name: string, status: string, conclusion: string | null, extra: Partial<CheckRunLike> = {}): CheckRunLike => ({
  id: 1,
  name,
  status,
  conclusion,
  started_at: '2025-01-01T10:00:00Z',
  html_url: `https://github.com/o/r/runs/${name}`,
  ...extra,
});
const status = (context: string, state: string, extra: Partial<CommitStatusLike> = {}): CommitStatusLike => ({
  context,
  state,
  target_url: `https://ci.example.com/${context}`,
  ...extra,
});

describe('decideChecks', () => {
  it('passes when every required check run and status succeeded', () => {
    const d = decideChecks(['build', 'ci/jenkins'], [run('build', 'completed', 'success'), run('lint', 'completed', 'failure')], [status('ci/jenkins', 'success')]);
    assert.deepEqual(d, { status: 'passed' });
  });

  it('is pending for runs not completed, pending statuses and names GitHub has not reported', () => {
    const d = decideChecks(
      ['build', 'test', 'ci/jenkins', 'deploy-check'],
      [run('build', 'in_progress', null), run('test', 'queued', null)],
      [status('ci/jenkins', 'pending')],
    );
    assert.deepEqual(d, { status: 'pending', waitingFor: ['build', 'test', 'ci/jenkins', 'deploy-check'] });
  });

  it('fails with the check name, its conclusion, URL and a message naming both', () => {
    const d = decideChecks(['build', 'test'], [run('build', 'completed', 'success'), run('test', 'completed', 'timed_out', { html_url: 'https://github.com/o/r/runs/77' })], [], SHA);
    assert.equal(d.status, 'failed');
    if (d.status !== 'failed') return;
    assert.equal(d.check, 'test');
    assert.equal(d.conclusion, 'timed_out');
    assert.equal(d.url, 'https://github.com/o/r/runs/77');
    assert.match(d.message, /"test"/);
    assert.match(d.message, /1a2b3c4/);
    assert.match(d.message, /timed_out/);
    assert.match(d.message, /https:\/\/github\.com\/o\/r\/runs\/77/);
  });

  it('fails at once even while other required checks are pending', () => {
    const d = decideChecks(['build', 'test'], [run('build', 'in_progress', null), run('test', 'completed', 'cancelled')], []);
    assert.equal(d.status, 'failed');
  });

  it('uses details_url when a check run has no html_url', () => {
    const d = decideChecks(['build'], [run('build', 'completed', 'failure', { html_url: null, details_url: 'https://ci.example.com/1' })], []);
    assert.equal(d.status === 'failed' && d.url, 'https://ci.example.com/1');
  });

  it('counts the newest run of a name (by started_at, then id)', () => {
    const failedThenRerun = [
      run('build', 'completed', 'failure', { id: 1, started_at: '2025-01-01T10:00:00Z' }),
      run('build', 'completed', 'success', { id: 2, started_at: '2025-01-01T10:05:00Z' }),
    ];
    assert.deepEqual(decideChecks(['build'], failedThenRerun, []), { status: 'passed' });
    assert.deepEqual(decideChecks(['build'], [...failedThenRerun].reverse(), []), { status: 'passed' }, 'order of the list does not matter');
    const rerunRunning = [run('build', 'completed', 'success', { id: 5 }), run('build', 'queued', null, { id: 6 })];
    assert.deepEqual(decideChecks(['build'], rerunRunning, []), { status: 'pending', waitingFor: ['build'] }, 'same started_at: larger id wins');
  });

  it('counts the newest status of a context (the first listed, or the latest updated_at)', () => {
    assert.deepEqual(decideChecks(['ci'], [], [status('ci', 'success'), status('ci', 'failure')]), { status: 'passed' });
    const d = decideChecks(['ci'], [], [status('ci', 'success', { updated_at: '2025-01-01T10:00:00Z' }), status('ci', 'error', { updated_at: '2025-01-01T11:00:00Z', description: 'Build broke.' })]);
    assert.equal(d.status, 'failed');
    if (d.status === 'failed') {
      assert.equal(d.conclusion, 'error');
      assert.equal(d.url, 'https://ci.example.com/ci');
      assert.match(d.message, /commit status "ci".*error \(Build broke\)/);
    }
  });

  it('requires both a check run and a status of the same name to pass (GitHub branch protection)', () => {
    assert.equal(decideChecks(['build'], [run('build', 'completed', 'success')], [status('build', 'failure')]).status, 'failed');
    assert.deepEqual(decideChecks(['build'], [run('build', 'completed', 'success')], [status('build', 'pending')]), { status: 'pending', waitingFor: ['build'] });
    assert.deepEqual(decideChecks(['build'], [run('build', 'completed', 'success')], [status('build', 'success')]), { status: 'passed' });
  });

  it('treats neutral and skipped as passing, like GitHub required status checks', () => {
    assert.deepEqual(decideChecks(['a', 'b'], [run('a', 'completed', 'neutral'), run('b', 'completed', 'skipped')], []), { status: 'passed' });
  });

  it('fails on every other conclusion, including stale and action_required', () => {
    for (const c of ['failure', 'cancelled', 'timed_out', 'action_required', 'stale', 'startup_failure']) {
      const d = decideChecks(['build'], [run('build', 'completed', c)], []);
      assert.equal(d.status === 'failed' && d.conclusion, c, c);
    }
  });

  it('matches names exactly and counts duplicates in required once', () => {
    assert.deepEqual(decideChecks(['Build', 'Build'], [run('build', 'completed', 'success')], []), { status: 'pending', waitingFor: ['Build'] });
  });
});

describe('checksEventCommit', () => {
  it('names the commit of a completed check_run and check_suite (real GitHub payloads)', () => {
    const completed = examples('check_run').find((p) => p.action === 'completed')!;
    assert.deepEqual(checksEventCommit('check_run', completed), { repository: completed.repository.full_name, sha: completed.check_run.head_sha });
    const suite = examples('check_suite').find((p) => p.action === 'completed')!;
    assert.deepEqual(checksEventCommit('check_suite', suite), { repository: suite.repository.full_name, sha: suite.check_suite.head_sha });
  });

  it('names the commit of a finished status but not of a pending one', () => {
    const s = examples('status')[0]!;
    assert.deepEqual(checksEventCommit('status', s), { repository: s.repository.full_name, sha: s.sha });
    assert.equal(checksEventCommit('status', { ...s, state: 'pending' }), undefined);
  });

  it('ignores other actions, other events and malformed payloads', () => {
    const created = examples('check_run').find((p) => p.action === 'created')!;
    assert.equal(checksEventCommit('check_run', created), undefined);
    const requested = examples('check_suite').find((p) => p.action === 'requested')!;
    assert.equal(checksEventCommit('check_suite', requested), undefined);
    assert.equal(checksEventCommit('push', { repository: { full_name: 'o/r' }, sha: SHA, state: 'success' }), undefined);
    assert.equal(checksEventCommit('status', { state: 'success', sha: 'abc', repository: { full_name: 'o/r' } }), undefined);
    assert.equal(checksEventCommit('status', { state: 'success', sha: SHA }), undefined);
    assert.equal(checksEventCommit('status', null), undefined);
  });
});
