/**
 * The twin's Lambda service (lib/local/lambda-runtime.ts): invocation errors keep the handler's error
 * name, and `settled` waits for invocations still running — the twin awaits it before closing the
 * services handlers write to (a handler finishing its audit write after the twin closed its table
 * failed a state-machine test with "Database is closed").
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LambdaFunctionError, LocalLambda } from '../../lib/local/lambda-runtime';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('LocalLambda', () => {
  it('settled resolves at once when nothing runs', async () => {
    const lambda = new LocalLambda('eu-west-1', '123456789012');
    assert.equal(await lambda.settled(10), true);
  });

  it('settled waits for a running invocation to finish its work', async () => {
    const lambda = new LocalLambda('eu-west-1', '123456789012');
    const gate = deferred();
    const writes: string[] = [];
    lambda.register('alarm', async () => {
      writes.push('notified');
      await gate.promise;
      writes.push('audited');
      return { ok: true };
    });
    const invocation = lambda.invoke('alarm', {});
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(writes, ['notified']);
    const settled = lambda.settled(5_000);
    setTimeout(() => gate.resolve(), 20);
    assert.equal(await settled, true);
    assert.deepEqual(writes, ['notified', 'audited'], 'the handler ran to its end before settled resolved');
    assert.deepEqual(await invocation, { ok: true });
  });

  it('settled gives up after its timeout when a handler never returns, and a failed invocation counts as settled', async () => {
    const lambda = new LocalLambda('eu-west-1', '123456789012');
    lambda.register('alarm', () => new Promise(() => undefined));
    lambda.register('plan', async () => {
      throw Object.assign(new Error('bad input'), { name: 'InvalidInputError' });
    });
    void lambda.invoke('alarm', {});
    assert.equal(await lambda.settled(30), false);

    const other = new LocalLambda('eu-west-1', '123456789012');
    other.register('plan', async () => {
      throw Object.assign(new Error('bad input'), { name: 'InvalidInputError' });
    });
    await assert.rejects(other.invoke('cutover-plan', {}), (err: unknown) => err instanceof LambdaFunctionError && err.name === 'InvalidInputError');
    assert.equal(await other.settled(30), true);
  });

  it('close: running invocations finish; later ones never run (the twin is stopping)', async () => {
    const lambda = new LocalLambda('eu-west-1', '123456789012');
    let runs = 0;
    lambda.register('alarm', async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 10));
      return 'done';
    });
    const running = lambda.invoke('alarm', {});
    assert.equal(await lambda.close(1_000), true);
    assert.equal(await running, 'done');
    let answered = false;
    void lambda.invoke('alarm', {}).then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(runs, 1, 'the invocation after close did not run');
    assert.equal(answered, false);
  });
});
