/** lib/domain/dora-metrics.ts: the four DORA figures computed from a ledger with a known history. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bandOf, computeDora, formatDuration, parseSince } from '../../lib/domain/dora-metrics';
import type { DeploymentRecord } from '../../lib/domain/ledger-items';

const SERVICE = 'hello-world';
const ENV = 'production';
let n = 0;
/** A record of hello-world/production; times are minutes after 2026-11-01T00:00Z. */
function rec(over: Partial<DeploymentRecord> & { at: number }): DeploymentRecord {
  const { at, ...rest } = over;
  const id = `d-${++n}`;
  return {
    pk: `DEPLOYMENTS#${SERVICE}#${ENV}`,
    sk: `${t(at)}#${id}`,
    deploymentId: id,
    executionArn: `arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:${id}`,
    service: SERVICE,
    environment: ENV,
    status: 'succeeded',
    commit: 'a'.repeat(40),
    image: 'repo@sha256:1',
    trigger: { source: 'github-push' },
    startedAt: t(at),
    kind: 'deploy',
    ...rest,
  };
}
const t = (minutes: number) => new Date(Date.UTC(2026, 10, 1) + minutes * 60_000).toISOString();
const H = 60;
const D = 24 * H;

// The known history (period: 2026-11-01 → 2026-11-11, 10 days):
const history: DeploymentRecord[] = [
  // 1. promoted, commit 2 h before going live
  rec({ at: 1 * D, committedAt: t(1 * D - 90), changesStartedAt: t(1 * D + 5), trafficAt: t(1 * D + 10), promotedAt: t(1 * D + 30) }),
  // 2. promoted, commit 1 h before
  rec({ at: 2 * D, committedAt: t(2 * D - 30), trafficAt: t(2 * D + 10), promotedAt: t(2 * D + 30) }),
  // 3. rolled back at its 10% canary: alarm at +20, traffic back at +21
  rec({ at: 3 * D, status: 'rolled-back', committedAt: t(3 * D - 60), trafficAt: t(3 * D + 10), detectedAt: t(3 * D + 20), restoredAt: t(3 * D + 21) }),
  // 4. promoted, later rolled back by rollback 5 (no commit time: CodeCommit)
  rec({ at: 4 * D, status: 'rolled-back', trafficAt: t(4 * D + 10), promotedAt: t(4 * D + 30), rolledBackBy: 'rb-5', rolledBackAt: t(4 * D + 90) }),
  // 5. the rollback: detected at the alarm (+80), traffic back at +90
  rec({ at: 4 * D + 85, kind: 'rollback', status: 'rolled-back', trigger: { source: 'alarm' }, detectedAt: t(4 * D + 80), restoredAt: t(4 * D + 90) }),
  // 6. its redeploy of the last good release (remediation): never a deployment
  rec({ at: 4 * D + 86, trigger: { source: 'rollback' }, trafficAt: t(4 * D + 87), promotedAt: t(4 * D + 88) }),
  // 7. failed before traffic (migration): not a deployment
  rec({ at: 5 * D, status: 'failed', changesStartedAt: t(5 * D + 1) }),
  // 8. superseded, 9. refused (window): not deployments
  rec({ at: 6 * D, status: 'superseded' }),
  rec({ at: 6 * D + 1, status: 'refused', error: 'Cutover.OutsideChangeWindow' }),
  // 10. promoted, commit 3 days before (lead time 3 d)
  rec({ at: 7 * D, committedAt: t(4 * D), trafficAt: t(7 * D + 10), promotedAt: t(7 * D + 30) }),
  // 11. before the period: ignored
  rec({ at: -2 * D, committedAt: t(-2 * D - 10), trafficAt: t(-2 * D + 10), promotedAt: t(-2 * D + 30) }),
  // 12. another environment: ignored
  { ...rec({ at: 2 * D, trafficAt: t(2 * D + 10), promotedAt: t(2 * D + 30) }), environment: 'staging' },
];
const period = { service: SERVICE, environment: ENV, since: t(0), until: t(10 * D) };

describe('computeDora on a ledger with a known history', () => {
  const r = computeDora(history, period);

  it('deployment frequency: the deployments that went live (1, 2, 4, 10), per day and per week', () => {
    assert.equal(r.deploymentFrequency.deployments, 4);
    assert.equal(r.deploymentFrequency.perDay, 0.4);
    assert.ok(Math.abs(r.deploymentFrequency.perWeek - 2.8) < 1e-9);
    assert.equal(r.deploymentFrequency.band, 'high');
    assert.equal(r.period.days, 10);
  });

  it('lead time: commit → live of 1 (2 h), 2 (1 h), 10 (3 d + 30 min); 4 has no commit time', () => {
    assert.equal(r.leadTime.samples, 3);
    assert.equal(r.leadTime.medianSeconds, 2 * 3600);
    assert.equal(r.leadTime.p90Seconds, 3 * 86_400 + 30 * 60);
    assert.equal(r.leadTime.unknownCommitTime, 1);
    assert.equal(r.leadTime.band, 'elite');
  });

  it('change failure rate: 3 (rolled back at its canary) and 4 (rolled back later) of the 5 that reached traffic', () => {
    assert.equal(r.changeFailureRate.total, 5);
    assert.equal(r.changeFailureRate.failed, 2);
    assert.equal(r.changeFailureRate.rate, 40);
    assert.deepEqual(r.changeFailureRate.failedDeployments, ['d-3', 'd-4']);
    assert.equal(r.changeFailureRate.band, 'low');
  });

  it('time to restore: 1 min (canary) and 10 min (the rollback), detection → traffic on a healthy release', () => {
    assert.equal(r.timeToRestore.samples, 2);
    assert.equal(r.timeToRestore.medianSeconds, 60);
    assert.equal(r.timeToRestore.p90Seconds, 600);
    assert.deepEqual(r.timeToRestore.unrestored, []);
    assert.equal(r.timeToRestore.band, 'elite');
  });

  it('an incident not restored is listed', () => {
    const broken = rec({ at: 8 * D, status: 'rollback-failed', trafficAt: t(8 * D + 1), detectedAt: t(8 * D + 2) });
    const report = computeDora([...history, broken], period);
    assert.deepEqual(report.timeToRestore.unrestored, [broken.deploymentId]);
    assert.equal(report.changeFailureRate.failed, 3);
  });

  it('an empty ledger: zero deployments, no figures, band low for frequency', () => {
    const empty = computeDora([], period);
    assert.equal(empty.deploymentFrequency.deployments, 0);
    assert.equal(empty.deploymentFrequency.band, 'low');
    assert.deepEqual([empty.leadTime.medianSeconds, empty.changeFailureRate.rate, empty.timeToRestore.medianSeconds], [null, null, null]);
  });

  it('refuses an empty or unreadable period', () => {
    assert.throws(() => computeDora([], { ...period, since: t(10), until: t(10) }), /the period is empty/);
    assert.throws(() => computeDora([], { ...period, since: 'yesterday' }), /ISO-8601/);
  });
});

describe('bands, periods, durations', () => {
  it('bands follow the DORA thresholds', () => {
    assert.deepEqual([2, 1 / 3, 1 / 20, 1 / 60].map((v) => bandOf('frequency', v)), ['elite', 'high', 'medium', 'low']);
    assert.deepEqual([5, 10, 15, 15.1].map((v) => bandOf('change-failure-rate', v)), ['elite', 'high', 'medium', 'low']);
    assert.deepEqual([600, 7200, 3 * 86_400, 8 * 86_400].map((v) => bandOf('time-to-restore', v)), ['elite', 'high', 'medium', 'low']);
    assert.deepEqual([3600, 2 * 86_400, 10 * 86_400, 40 * 86_400].map((v) => bandOf('lead-time', v)), ['elite', 'high', 'medium', 'low']);
  });
  it('parses --since as a period before now or an ISO date, and names the forms otherwise', () => {
    const now = new Date('2026-12-05T12:00:00Z');
    assert.equal(parseSince('30d', now), '2026-11-05T12:00:00.000Z');
    assert.equal(parseSince('12h', now), '2026-12-05T00:00:00.000Z');
    assert.equal(parseSince('2w', now), '2026-11-21T12:00:00.000Z');
    assert.equal(parseSince('2026-11-01', now), '2026-11-01T00:00:00.000Z');
    assert.throws(() => parseSince('3x', now), /--since: "3x" is not a period; use 30d, 12h, 2w or an ISO date/);
    assert.throws(() => parseSince('0d', now), /empty period/);
    assert.throws(() => parseSince('2027-01-01', now), /not in the past/);
    assert.throws(() => parseSince('2026-02-30', now), /is not a period/, 'a day that does not exist');
    assert.equal(parseSince('2026-11-01T12:00:00+01:00', now), '2026-11-01T11:00:00.000Z');
  });
  it('formats durations for tables', () => {
    assert.deepEqual([null, 45, 720, 3.5 * 3600, 2.1 * 86_400].map(formatDuration), ['—', '45 s', '12 min', '3.5 h', '2.1 d']);
  });
});
