/**
 * Static checks of every state-machines/*.asl.json:
 *  - valid Amazon States Language (asl-validator, with ARN and path checks) once the placeholders are
 *    substituted the way CDK's definitionSubstitutions does;
 *  - every Wait state waits the interval the domain code counts with (lib/domain/plan.ts,
 *    and lib/domain/restore.ts): check counts are derived from them;
 *  - every Task that calls a Lambda (which calls AWS) retries Cutover.Transient and the Lambda
 *    service errors, has an explicit TimeoutSeconds, and catches States.ALL so that no failure
 *    skips recording the outcome and releasing the lock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { FUNCTIONS, PARTITION_PLACEHOLDER, ROOT_DIR, STATE_MACHINES, stateMachineName } from '../../lib/catalog';
import { RETRYABLE_TASK_ERRORS } from '../../lib/domain/errors';
import {
  GREEN_CHECK_INTERVAL_SECONDS,
  RESTORE_CHECK_INTERVAL_SECONDS,
  SNAPSHOT_CHECK_INTERVAL_SECONDS,
} from '../../lib/domain/plan';
import { substituteDefinition } from '../../lib/local/twin';

type Validator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errors: unknown[]; errorsText: (separator?: string) => string };
// asl-validator 4 is CommonJS without type declarations.
const aslValidator = createRequire(import.meta.url)('asl-validator') as Validator;

type State = Record<string, any>;
const DIR = join(ROOT_DIR, 'state-machines');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.asl.json')).sort();

/** The values CDK substitutes: function ARNs of a real-looking account, partition `aws`. */
const SUBSTITUTIONS: Record<string, string> = {
  [PARTITION_PLACEHOLDER]: 'aws',
  ...Object.fromEntries(
    FUNCTIONS.filter((f) => 'placeholder' in f).map((f) => [
      (f as { placeholder: string }).placeholder,
      `arn:aws:lambda:us-east-1:123456789012:function:cutover-${f.name}`,
    ]),
  ),
  ...Object.fromEntries(STATE_MACHINES.map((m) => [m.placeholder, `arn:aws:states:us-east-1:123456789012:stateMachine:${stateMachineName(m.name)}`])),
};

/** Wait states whose length comes from the input (SecondsPath) → the path they read. */
const DYNAMIC_WAITS: Record<string, string> = {
  WaitForWindowEnd: '$.windowSeconds',
  WaitForMigration: '$.plan.database.migrationCheckIntervalSeconds',
  WaitWhileBusy: '$.close.retryInSeconds',
  WaitBeforeVerifyTest: '$.plan.verify.intervalSeconds',
  WaitBeforeVerifyProduction: '$.plan.verify.intervalSeconds',
  WaitForSmokeTest: '$.plan.verify.commandCheckIntervalSeconds',
  SoakBeforePromotion: '$.plan.promotionSoakSeconds',
};

/** Wait state name → the constant the domain code uses for its interval. */
const WAIT_INTERVALS: Record<string, number> = {
  WaitForSnapshot: SNAPSHOT_CHECK_INTERVAL_SECONDS,
  WaitForGreen: GREEN_CHECK_INTERVAL_SECONDS,
  WaitForRestore: RESTORE_CHECK_INTERVAL_SECONDS,
};

function allStates(def: { States?: Record<string, State> }): Array<[string, State]> {
  const out: Array<[string, State]> = [];
  for (const [name, state] of Object.entries(def.States ?? {})) {
    out.push([name, state]);
    for (const b of state.Branches ?? []) out.push(...allStates(b));
    for (const key of ['ItemProcessor', 'Iterator']) if (state[key]) out.push(...allStates(state[key]));
  }
  return out;
}

/** A Task that starts an execution of another cutover state machine. */
function startsExecution(state: State): boolean {
  return /:states:::states:startExecution(\.sync(:2)?)?$/.test(String(state.Resource ?? ''));
}

/** A Task whose Resource is a cutover function (placeholder) or a Lambda integration. */
function callsLambda(state: State): boolean {
  const r = String(state.Resource ?? '');
  return /^\$\{[A-Za-z]+FunctionArn\}$/.test(r) || /:states:::lambda:invoke/.test(r) || /:lambda:/.test(r);
}

describe('state machine definitions', () => {
  it('finds the definitions', () => {
    assert.ok(FILES.includes('deploy.asl.json'), FILES.join(', '));
  });

  for (const file of FILES) {
    describe(file, () => {
      const text = readFileSync(join(DIR, file), 'utf8');
      const raw = JSON.parse(text) as { States: Record<string, State> };
      const states = allStates(raw);

      it('is valid Amazon States Language once its placeholders are substituted', () => {
        const definition = JSON.parse(substituteDefinition(text, SUBSTITUTIONS));
        const result = aslValidator(definition, { checkPaths: true, checkArn: true });
        assert.ok(result.isValid, result.errorsText('\n'));
      });

      it('has no JSONata (the local runner runs JSONPath only)', () => {
        assert.ok(!text.includes('JSONata'));
      });

      it('waits, in every Wait state, the interval the domain code counts checks with', () => {
        const waits = states.filter(([, s]) => s.Type === 'Wait');
        assert.ok(waits.length > 0);
        for (const [name, s] of waits) {
          if (name in DYNAMIC_WAITS) {
            assert.equal(s.SecondsPath, DYNAMIC_WAITS[name], `${name}.SecondsPath`);
            continue;
          }
          assert.ok(name in WAIT_INTERVALS, `Wait state ${name} has no interval constant in lib/domain/plan.ts or lib/config/schema.ts`);
          assert.equal(s.Seconds, WAIT_INTERVALS[name], `${name}.Seconds`);
        }
      });

      it('retries Cutover.Transient and times out explicitly in every Task that calls a Lambda', () => {
        const tasks = states.filter(([, s]) => s.Type === 'Task' && !startsExecution(s));
        assert.ok(tasks.length > 0);
        for (const [name, s] of tasks) {
          assert.ok(callsLambda(s), `${name}: Resource ${s.Resource} is not a cutover Lambda; extend this check`);
          const retried = new Set((s.Retry ?? []).flatMap((r: State) => r.ErrorEquals));
          for (const error of RETRYABLE_TASK_ERRORS) assert.ok(retried.has(error), `${name} retries ${error}`);
          for (const r of s.Retry ?? []) {
            assert.ok(r.MaxAttempts >= 1, `${name}: a retrier with MaxAttempts ${r.MaxAttempts} does not retry`);
            assert.ok(!r.ErrorEquals.includes('States.ALL') && !r.ErrorEquals.includes('States.TaskFailed'), `${name} retries everything`);
          }
          assert.ok(
            (Number.isInteger(s.TimeoutSeconds) && s.TimeoutSeconds > 0) || typeof s.TimeoutSecondsPath === 'string',
            `${name}: explicit TimeoutSeconds (or TimeoutSecondsPath)`,
          );
          assert.ok(
            (s.Catch ?? []).some((c: State) => c.ErrorEquals.includes('States.ALL')),
            `${name} catches States.ALL (the outcome is recorded and the lock released)`,
          );
        }
      });
    });
  }

  it('starts only cutover state machines, with a timeout, a retry of SDK client errors and a catch-all', () => {
    let count = 0;
    for (const file of FILES) {
      const raw = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { States: Record<string, State> };
      for (const [name, s] of allStates(raw).filter(([, st]) => st.Type === 'Task' && startsExecution(st))) {
        count++;
        const target = String(s.Parameters?.StateMachineArn ?? '');
        assert.ok(STATE_MACHINES.some((m) => target === `\${${m.placeholder}}`), `${file} ${name}: StateMachineArn ${target} is a cutover state machine placeholder`);
        assert.ok(Number.isInteger(s.TimeoutSeconds) && s.TimeoutSeconds > 0, `${file} ${name}: explicit TimeoutSeconds`);
        assert.ok((s.Retry ?? []).some((r: State) => r.ErrorEquals.includes('StepFunctions.SdkClientException')), `${file} ${name} retries StepFunctions.SdkClientException`);
        assert.ok((s.Catch ?? []).some((c: State) => c.ErrorEquals.includes('States.ALL')), `${file} ${name} catches States.ALL`);
      }
    }
    assert.ok(count >= 2, 'the deploy and rollback state machines start executions');
  });

  it('asl-validator rejects a definition that transitions to a missing state (the check has teeth)', () => {
    const broken = { StartAt: 'A', States: { A: { Type: 'Pass', Next: 'Missing' } } };
    const result = aslValidator(broken, { checkPaths: true, checkArn: true });
    assert.equal(result.isValid, false);
    assert.match(result.errorsText('\n'), /Missing/);
  });
});
