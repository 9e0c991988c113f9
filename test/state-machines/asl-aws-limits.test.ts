/**
 * What real AWS Step Functions does with these definitions, checked statically on the three files:
 * every Lambda task retries the errors AWS recommends retrying, and no execution can time out (an
 * execution timeout cannot be caught: the lock stays held, traffic may stay split, nothing is recorded).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { STATE_MACHINES, stateMachineFile } from '../../lib/catalog';

type State = { Type: string; Resource?: string; Retry?: Array<{ ErrorEquals: string[] }>; TimeoutSeconds?: number; TimeoutSecondsPath?: string; Seconds?: number; Iterator?: Asl; ItemProcessor?: Asl; Branches?: Asl[] };
type Asl = { StartAt: string; States: Record<string, State>; TimeoutSeconds?: number };
const load = (file: string) => JSON.parse(readFileSync(stateMachineFile(file), 'utf8')) as Asl;

/** Errors AWS recommends retrying for Lambda tasks (Step Functions developer guide, "Handle transient Lambda service exceptions"). */
const LAMBDA_RETRY = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'Lambda.ClientExecutionTimeoutException'];

function* states(asl: Asl): Generator<[string, State]> {
  for (const [name, s] of Object.entries(asl.States)) {
    yield [name, s];
    for (const inner of [s.Iterator, s.ItemProcessor, ...(s.Branches ?? [])]) if (inner) yield* states(inner);
  }
}
const isLambdaTask = (s: State) => s.Type === 'Task' && /:lambda:|FunctionArn/.test(s.Resource ?? '') ;

describe('AWS limits of the state machines', () => {
  for (const sm of STATE_MACHINES) {
    const asl = load(sm.file);

    it(`${sm.file}: every Lambda task retries ${LAMBDA_RETRY.length} Lambda service errors, Lambda.ClientExecutionTimeoutException included`, () => {
      const lambdaTasks = [...states(asl)].filter(([, s]) => isLambdaTask(s));
      assert.ok(lambdaTasks.length > 0);
      for (const [name, s] of lambdaTasks) {
        const retried = (s.Retry ?? []).flatMap((r) => r.ErrorEquals);
        assert.deepEqual(LAMBDA_RETRY.filter((e) => !retried.includes(e) && !retried.includes('States.ALL')), [], `${sm.file} ${name}`);
      }
    });

    it(`${sm.file}: every callback or .sync task has a timeout (else it waits up to a year)`, () => {
      for (const [name, s] of states(asl)) {
        if (s.Type !== 'Task' || !/\.(waitForTaskToken|sync(:2)?)$/.test(s.Resource ?? '')) continue;
        assert.ok(s.TimeoutSeconds !== undefined || s.TimeoutSecondsPath !== undefined, `${sm.file} ${name} has TimeoutSeconds(Path)`);
      }
    });
  }

  it('names the executions it starts deterministically and within 80 characters (a hash, not the up-to-80-character execution name)', () => {
    const deploy = [...states(load('deploy.asl.json'))].find(([n]) => n === 'StartRollbackWindow')![1] as State & { Parameters: Record<string, string> };
    const redeploy = [...states(load('rollback.asl.json'))].find(([n]) => n === 'Redeploy')![1] as State & { Parameters: Record<string, string> };
    for (const [state, suffix] of [[deploy, '-window'], [redeploy, '-redeploy']] as const) {
      const name = state.Parameters['Name.$'];
      assert.match(name, /^States\.Format\('\{\}-[a-z]+', States\.Hash\([^)]+, 'SHA-1'\)\)$/, name);
      assert.ok(40 + suffix.length <= 80, 'SHA-1 hex (40) + suffix fits 80 characters');
    }
  });

  it('no execution times out before its longest configured wait ends: worst cases from the config schema maxima fit each TimeoutSeconds', () => {
    // Config schema maxima (lib/config/schema.ts): approval 7 d; up to 20 traffic steps of up to 1 d bake;
    // stabilization 2 h; migration up to 24 h (timeoutSeconds 86,400); the database decision waits 24 h;
    // the rollback window up to 7 d. Polling loops, retries and Lambda calls add at most a few hours.
    const H = 3600;
    const D = 24 * H;
    const slack = 6 * H;
    const deployWorst = 7 * D + 20 * D + 2 * H /* green */ + D /* migration */ + D /* snapshot */ + D /* database decision */ + 2 * H /* rollback's scale-down and restore */ + slack;
    // Redeploy runs an all-at-once deployment without migrations or approval gate: green, one bake.
    const redeploy = [...states(load('rollback.asl.json'))].find(([n]) => n === 'Redeploy')![1];
    const redeployWorst = 2 * H + D + slack;
    assert.ok(redeploy.TimeoutSeconds! >= redeployWorst, `Redeploy: TimeoutSeconds ${redeploy.TimeoutSeconds} < worst case ${redeployWorst}`);
    const rollbackWorst = 2 * H + redeploy.TimeoutSeconds! + D /* its database decision */ + slack;
    const windowWorst = 7 * D + slack;
    const timeout = (name: string) => load(STATE_MACHINES.find((m) => m.name === name)!.file).TimeoutSeconds ?? 365 * D;
    assert.ok(timeout('deploy') >= deployWorst, `deploy: TimeoutSeconds ${timeout('deploy')} < worst case ${deployWorst}`);
    assert.ok(timeout('rollback') >= rollbackWorst, `rollback: TimeoutSeconds ${timeout('rollback')} < worst case ${rollbackWorst}`);
    assert.ok(timeout('rollback-window') >= windowWorst, `rollback-window: TimeoutSeconds ${timeout('rollback-window')} < worst case ${windowWorst}`);
    for (const name of ['deploy', 'rollback', 'rollback-window']) assert.ok(timeout(name) <= 365 * D, `${name}: Standard workflows run at most one year`);
  });
});

describe('operator answers cannot crash a Choice', () => {
  it('each DatabaseDecision compares the answer only when it is present and a string', () => {
    for (const file of ['deploy.asl.json', 'rollback.asl.json']) {
      const choice = [...states(load(file))].find(([n]) => n === 'DatabaseDecision')![1] as State & { Choices: Array<{ And?: Array<Record<string, unknown>> }> };
      const and = choice.Choices[0]!.And ?? [];
      assert.ok(and.some((c) => c.IsPresent === true) && and.some((c) => c.IsString === true), `${file}: guarded`);
    }
  });
});
