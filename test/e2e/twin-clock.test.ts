/**
 * One timeline in the twin: its Lambda handlers read its simulated clock (lib/aws/clock.ts
 * `clockNow`, pointed at it while the twin runs), its index says `now` on that clock, and its Step
 * Functions dates are on it too — so a deployment record's `startedAt` (from `$$.Execution.StartTime`)
 * is the execution's `startDate`, and its `finishedAt` (the handler's clock) lies between start and
 * stop. At ×400 the simulated clock is minutes ahead of the real one within a second, so a real-time
 * date anywhere would show.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clockNow } from '../../lib/aws/clock';
import { LocalLambda } from '../../lib/local/lambda-runtime';
import { invokeWebhook } from '../../lib/local/twin';
import { masterPush, webhookEvent } from '../helpers/github';
import { TestTwin } from '../helpers/twin';

/** Simulated time ahead of real time that no real-time date can be mistaken for. */
const AHEAD_MS = 60_000;

describe('e2e: the twin runs its handlers and Step Functions on its simulated clock', () => {
  let t: TestTwin;
  before(async () => {
    t = await TestTwin.start();
    // Let the simulated clock get clearly ahead of the real one.
    while (t.twin.clock.nowMs() - Date.now() < AHEAD_MS) await new Promise((r) => setTimeout(r, 20));
  });
  after(async () => {
    await t?.stop();
  });

  it("handlers read the twin's simulated clock, and the index's now is that clock", async () => {
    // Act
    const handlerNow = clockNow().getTime();
    const twinNow = t.twin.clock.nowMs();
    const index = (await (await fetch(`${t.twin.url}/`)).json()) as { now?: string; timeScale?: number };
    const afterIndex = t.twin.clock.nowMs();

    // Assess
    assert.ok(Math.abs(handlerNow - twinNow) < 5_000, `clockNow() ${new Date(handlerNow).toISOString()} is the twin's ${new Date(twinNow).toISOString()}`);
    assert.ok(handlerNow - Date.now() > AHEAD_MS, 'not the real time');
    const indexNow = Date.parse(index.now ?? '');
    assert.ok(indexNow >= twinNow - 1000 && indexNow <= afterIndex + 1000, `index now ${index.now} is on the twin's clock`);
    assert.equal(index.timeScale, t.twin.clock.timeScale);
  });

  it('a deployment record starts at its execution startDate and finishes between its start and stop dates, all simulated', async () => {
    // Act
    const { d, result } = await t.deploy();
    const record = await t.record(d);

    // Assess
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.ok(record, 'the deployment was recorded');
    assert.ok(result.startDate.getTime() - Date.now() > AHEAD_MS, `the execution started on the simulated clock (${result.startDate.toISOString()})`);
    assert.equal(record.startedAt, result.startDate.toISOString(), 'startedAt ($$.Execution.StartTime) is the execution startDate');
    const finished = Date.parse(record.finishedAt ?? '');
    assert.ok(finished >= result.startDate.getTime() && finished <= result.stopDate!.getTime(), `finishedAt ${record.finishedAt} lies between ${result.startDate.toISOString()} and ${result.stopDate!.toISOString()}`);
    const history = t.history(d).map((e) => e.timestamp!.getTime());
    assert.ok(history.every((ts) => ts >= result.startDate.getTime() && ts <= result.stopDate!.getTime() + 1000), 'every history timestamp is between start and stop');
  });

  it('once the twin stops, handlers read the system clock again', async () => {
    // Act
    await t.stop();
    const now = clockNow().getTime();

    // Assess
    assert.ok(Math.abs(now - Date.now()) < 1_000);
  });
});

describe('the twin webhook integration when the function fails', () => {
  it('answers 500 naming the function and its error (here: not loaded yet), never a bare Internal Server Error', async () => {
    // Prepare: a Lambda service whose handlers are not loaded, as early in a start.
    const lambda = new LocalLambda('us-east-1', '123456789012');

    // Act
    const out = await invokeWebhook(lambda, webhookEvent({ event: 'push', payload: masterPush(), secret: 'x' }));

    // Assess
    assert.equal(out.statusCode, 500);
    assert.deepEqual(JSON.parse(String(out.body)), {
      message:
        'Internal Server Error: the github-webhook function failed (ResourceNotFoundException: Function not found: github-webhook). Nothing was deployed; redeliver once the cause is fixed.',
    });
  });
});
