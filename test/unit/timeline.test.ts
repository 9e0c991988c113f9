/**
 * The twin's live timeline (lib/local/timeline.ts): lines printed from Step Functions history events.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { createTimeline } from '../../lib/local/timeline';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:cutover-rollback:alarm-98f3c2d1-0000-4000-8000-000000000000';

function linesFor(events: HistoryEvent[]): string[] {
  const lines: string[] = [];
  let now = Date.parse('2026-12-05T10:00:00Z');
  const timeline = createTimeline({ write: (l) => lines.push(l), now: () => now });
  for (const e of events) {
    timeline(ARN, e);
    now += 1000;
  }
  return lines;
}

const started = (input: unknown): HistoryEvent => ({
  id: 1,
  type: 'ExecutionStarted',
  timestamp: new Date(),
  executionStartedEventDetails: { input: typeof input === 'string' ? input : JSON.stringify(input) },
});

describe('timeline', () => {
  it('a rollback an alarm started says which alarm and why on its first line', () => {
    const [line] = linesFor([
      started({
        service: 'hello-world',
        environment: 'production',
        reason: 'alarm hello-world-production-latency went to ALARM:\n  Threshold Crossed: 2 datapoints',
        trigger: { source: 'alarm', actor: 'alarm:hello-world-production-latency' },
      }),
    ]);
    assert.equal(
      line,
      '  alarm-98…  t+0s      ● execution started: rollback (alarm:hello-world-production-latency): alarm hello-world-production-latency went to ALARM: Threshold Crossed: 2 datapoints',
    );
  });

  it('an operator rollback without an actor names its source; a long reason is cut at 300 characters', () => {
    const [line] = linesFor([started({ service: 's', environment: 'e', reason: 'x'.repeat(400), trigger: { source: 'console' } })]);
    assert.match(line!, /● execution started: rollback \(console\): x{299}…$/);
  });

  it('a deployment (no reason in its input), an unreadable input or none print the plain start line', () => {
    for (const input of [{ service: 's', environment: 'e', commit: 'abc' }, 'not json', { reason: '   ' }]) {
      assert.match(linesFor([started(input)])[0]!, /● execution started$/);
    }
    assert.match(linesFor([{ id: 1, type: 'ExecutionStarted', timestamp: new Date() }])[0]!, /● execution started$/);
  });
});
