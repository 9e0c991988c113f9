/**
 * deploy.asl.json with bad execution input, as an operator might type it in the Step Functions
 * console: the execution fails at ResolvePlan with Cutover.InvalidInput, the cause names the field
 * and the fix, and nothing is read or written in AWS (no simulator call, no record, no lock).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deployInput, ENVIRONMENT, randomCommit, SERVICE, TestTwin } from '../helpers/twin';

const CASES: Array<{ name: string; input: unknown; cause: RegExp }> = [
  {
    name: 'missing release.commit',
    input: { service: SERVICE, environment: ENVIRONMENT, release: {} },
    cause: /^Invalid input: release\.commit: required \(string\)$/,
  },
  {
    name: 'a commit that is not a SHA',
    input: { service: SERVICE, environment: ENVIRONMENT, release: { commit: 'main' } },
    cause: /release\.commit: use the git commit SHA/,
  },
  {
    name: 'an unknown service',
    input: { service: 'hello-wrold', environment: ENVIRONMENT, release: { commit: randomCommit() } },
    cause: /^service: "hello-wrold" is not configured; use one of: hello-world\.$/,
  },
  {
    name: 'an unknown environment',
    input: { ...deployInput(), environment: 'prod' },
    cause: /environment: "prod" is not configured for service "hello-world"; use one of: production/,
  },
  {
    name: 'a misspelt field',
    input: { service: SERVICE, environment: ENVIRONMENT, relase: { commit: randomCommit() } },
    cause: /unknown field\(s\) "relase"/,
  },
  {
    name: 'a CodeCommit event for a repository no service deploys from',
    input: { codecommit: { repositoryName: 'hello-world', referenceName: 'master', commitId: randomCommit() } },
    cause: /^codecommit: repository "hello-world" branch "master" is not configured for any service/,
  },
  { name: 'an array', input: '[{"service":"hello-world"}]', cause: /The execution input must be a JSON object like \{"service":"hello-world"/ },
  { name: 'a string', input: '"deploy hello-world please"', cause: /The execution input must be a JSON object/ },
  { name: 'a number', input: '42', cause: /The execution input must be a JSON object/ },
];

describe('deploy: invalid input', () => {
  let t: TestTwin;
  before(async () => {
    t = await TestTwin.start();
  });
  after(() => t?.stop());

  for (const c of CASES) {
    it(`fails at ResolvePlan with Cutover.InvalidInput for ${c.name}, changing nothing`, async () => {
      // Prepare
      t.sim.calls.length = 0;
      // Act
      const { d, result } = await t.deploy(c.input);
      // Assess
      assert.equal(result.status, 'FAILED');
      assert.equal(result.error, 'Cutover.InvalidInput');
      assert.match(result.cause ?? '', c.cause);
      assert.deepEqual(t.statesEntered(d), ['Initialize', 'ResolvePlan', 'ExplainInvalidInput', 'InvalidInput']);
      assert.deepEqual(t.sim.calls, [], 'no ECS / ELB / RDS / CloudWatch call at all');
      assert.equal(await t.record(d), undefined, 'no deployment record');
      assert.equal(await t.lock(), undefined, 'no lock');
      assert.deepEqual(t.weights(), { blue: 100, green: 0 });
    });
  }

  // `null` never reaches ResolvePlan in the twin: aws-local-stepfunctions evaluates Initialize's
  // "input.$": "$" on a null input as "does not point to a value" (States.Runtime). Whatever the
  // error, such an execution must change nothing.
  it('fails for null input, changing nothing', async () => {
    t.sim.calls.length = 0;
    const { d, result } = await t.deploy('null');
    assert.equal(result.status, 'FAILED');
    assert.deepEqual(t.sim.calls, []);
    assert.equal(await t.record(d), undefined);
    assert.equal(await t.lock(), undefined);
  });
});
