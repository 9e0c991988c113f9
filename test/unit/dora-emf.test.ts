/**
 * The DORA metrics published as CloudWatch Embedded Metric Format (Powertools Metrics): which values an
 * event publishes (lib/domain/dora-metrics.ts `doraMetricValues`) and the EMF record written to stdout
 * (lib/observability.ts `publishMetrics`), which CloudWatch Logs turns into metrics.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { doraMetricValues } from '../../lib/domain/dora-metrics';
import { METRICS_NAMESPACE, publishMetrics } from '../../lib/observability';

/** Run `fn` with stdout captured; returns the lines written. */
function captureStdout(fn: () => void): string[] {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  try {
    fn();
  } finally {
    process.stdout.write = write;
  }
  return lines;
}

describe('DORA metric values per ledger event', () => {
  it('a promoted deployment: a change attempt, a deployment, and its lead time', () => {
    assert.deepEqual(doraMetricValues({ kind: 'finished', status: 'succeeded', source: 'github-push', reachedTraffic: true, committedAt: '2026-12-05T10:00:00Z', promotedAt: '2026-12-05T10:30:00Z' }), [
      { name: 'ChangeAttempts', unit: 'Count', value: 1 },
      { name: 'Deployments', unit: 'Count', value: 1 },
      { name: 'LeadTime', unit: 'Seconds', value: 1800 },
    ]);
  });
  it('rolled back after traffic: an attempt that failed; before traffic, or a rollback\'s redeploy: nothing', () => {
    assert.deepEqual(doraMetricValues({ kind: 'finished', status: 'rolled-back', source: 'github-push', reachedTraffic: true }).map((v) => v.name), ['ChangeAttempts', 'ChangeFailures']);
    assert.deepEqual(doraMetricValues({ kind: 'finished', status: 'failed', source: 'github-push', reachedTraffic: false }), []);
    assert.deepEqual(doraMetricValues({ kind: 'finished', status: 'succeeded', source: 'rollback', reachedTraffic: true }), []);
  });
  it('a later rollback is a change failure; a restore publishes its duration', () => {
    assert.deepEqual(doraMetricValues({ kind: 'rolled-back-later' }), [{ name: 'ChangeFailures', unit: 'Count', value: 1 }]);
    assert.deepEqual(doraMetricValues({ kind: 'restored', detectedAt: '2026-12-05T10:00:00Z', restoredAt: '2026-12-05T10:00:42Z' }), [{ name: 'TimeToRestore', unit: 'Seconds', value: 42 }]);
  });
});

describe('publishMetrics (EMF)', () => {
  it('writes one EMF record: namespace Cutover, dimensions service and environment, the values with units', () => {
    const before = process.env.POWERTOOLS_METRICS_DISABLED;
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    try {
      const lines = captureStdout(() => publishMetrics('hello-world', 'production', [
        { name: 'Deployments', unit: 'Count', value: 1 },
        { name: 'LeadTime', unit: 'Seconds', value: 1800 },
      ]));
      const records = lines.map((l) => JSON.parse(l)).filter((r) => r._aws);
      assert.equal(records.length, 1);
      const [emf] = records;
      const directive = emf._aws.CloudWatchMetrics[0];
      assert.equal(directive.Namespace, METRICS_NAMESPACE);
      assert.deepEqual(directive.Dimensions, [['service', 'environment']]);
      assert.deepEqual(directive.Metrics, [{ Name: 'Deployments', Unit: 'Count' }, { Name: 'LeadTime', Unit: 'Seconds' }]);
      assert.deepEqual([emf.service, emf.environment, emf.Deployments, emf.LeadTime], ['hello-world', 'production', 1, 1800]);
    } finally {
      if (before === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
      else process.env.POWERTOOLS_METRICS_DISABLED = before;
    }
  });
  it('writes nothing when disabled (the twin) or with no values', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    try {
      assert.deepEqual(captureStdout(() => publishMetrics('hello-world', 'production', [{ name: 'Deployments', unit: 'Count', value: 1 }])).filter((l) => l.includes('_aws')), []);
    } finally {
      delete process.env.POWERTOOLS_METRICS_DISABLED;
    }
    assert.deepEqual(captureStdout(() => publishMetrics('hello-world', 'production', [])), []);
  });
});
