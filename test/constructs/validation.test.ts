/**
 * Props validation: each check fails with the prop, the value and the fix. And `bin/app.ts` ends synth
 * of an invalid config with the config error only (exit 1, no stack trace).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ROOT_DIR } from '../../lib/catalog';
import { ConfigError, loadConfigFile, type Config } from '../../lib/config';
import { AlarmTrigger, CutoverFunction, CutoverStack, GitHubWebhook, LedgerTable } from '../../lib/constructs';
import { fleetConfigRaw } from '../helpers/fleet';
import { TASK_ROLES } from '../helpers/stacks';

const ROLLBACK_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:cutover-rollback';


const SAMPLE = join(ROOT_DIR, 'test/fixtures/hello-world-production.json');
const sampleRaw = () => JSON.parse(readFileSync(SAMPLE, 'utf8'));
const config = loadConfigFile(SAMPLE);
const scratch = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Scratch');

describe('CutoverStack props', () => {
  it('fails when config is invalid, naming the prop, the field and the fix', () => {
    const raw = sampleRaw();
    raw.services['hello-world'].environments.production.strategy.percent = 150;
    assert.throws(
      () => new CutoverStack(new App(), 'Cutover', { config: raw as Config, taskRoleArns: TASK_ROLES }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /CutoverStackProps\.config/);
        assert.match(err.message, /services\.hello-world\.environments\.production\.strategy\.percent: a canary sends 1-99 percent/);
        return true;
      },
    );
  });

  it('fails when a task role ARN is not an IAM role ARN', () => {
    assert.throws(
      () => new CutoverStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Cutover', { config, taskRoleArns: ['arn:aws:iam::123456789012:user/bob'] }),
      /DeployFunctionsProps\.taskRoleArns\[0\]: "arn:aws:iam::123456789012:user\/bob" is not an IAM role ARN; use arn:aws:iam::<account>:role\/<name>/,
    );
  });

  it('fails when no task role ARNs are given, naming the prop, the context key and where to find them', () => {
    assert.throws(
      () => new CutoverStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Cutover', { config, taskRoleArns: [] }),
      (err: unknown) => {
        assert.match(String((err as Error).message), /CutoverStackProps\.taskRoleArns: .*cutover:taskRoleArns.*describe-task-definition/);
        return true;
      },
    );
  });

  it('two stacks in one account share no name (state machines, secret, HTTP API, anything named), derived from the stack name', () => {
    // Names that are not account-wide: key attributes, a stage name inside its API, a role's inline policy name (the role is the stack's).
    const scoped = /^(AttributeName|StageName|PolicyName|DisplayName)$/;
    for (const file of [SAMPLE, join(ROOT_DIR, 'test/constructs/fixtures/codecommit-aurora.json')]) {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stacks = ['CutoverA', 'CutoverB'].map((id) => new CutoverStack(app, id, { config: loadConfigFile(file), taskRoleArns: TASK_ROLES }));
      /** Every string property whose key ends in "Name", anywhere in a resource's properties (not inside the definition). */
      const names = (stack: Stack): string[] => {
        const out: string[] = [];
        const walk = (v: unknown): void => {
          if (!v || typeof v !== 'object') return;
          for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
            if (/Name$/.test(k) && !scoped.test(k) && typeof x === 'string') out.push(`${k}=${x}`);
            if (k !== 'DefinitionString' && k !== 'DefinitionSubstitutions' && k !== 'InputTransformer') walk(x);
          }
        };
        for (const r of Object.values(Template.fromStack(stack).toJSON().Resources) as Array<{ Properties?: unknown }>) walk(r.Properties);
        return out;
      };
      const [a, b] = stacks.map(names) as [string[], string[]];
      for (const expected of ['StateMachineName=CutoverA-deploy', 'Name=CutoverA/github-webhook-secret', 'Name=CutoverA-github-webhook']) assert.ok(a.includes(expected), `${expected} in ${a.join(', ')}`);
      assert.deepEqual(a.filter((n) => b.includes(n)), [], file);
    }
  });

  it('fails when the stack name is too long for the state machine names derived from it, naming the limit and the fix', () => {
    const id = `C${'x'.repeat(64)}`; // 65 characters: "<id>-rollback-window" would be 81, over Step Functions' 80
    assert.throws(
      () => new CutoverStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), id, { config, taskRoleArns: TASK_ROLES }),
      /^Error: CutoverStackProps\.rollbackWindowStateMachineName: the default "Cx+-rollback-window", from the stack name "Cx+" \(65 characters\), is 81 characters; Step Functions allows 80\. Use a stack name of at most 64 characters \(context cutover:stackName\) or set rollbackWindowStateMachineName\.$/,
    );
    assert.doesNotThrow(() => new CutoverStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), id.slice(0, 64), { config, taskRoleArns: TASK_ROLES }));
  });

  it('fails when the webhook secret name is invalid', () => {
    assert.throws(
      () => new CutoverStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Cutover', { config, taskRoleArns: TASK_ROLES, webhookSecretName: 'has spaces' }),
      /GitHubWebhookProps\.secretName: "has spaces" is not a valid Secrets Manager name/,
    );
  });
});

describe('construct props', () => {
  const machine = (stack: Stack) => sfn.StateMachine.fromStateMachineName(stack, 'Sm', 'cutover-deploy');

  it('fails when the webhook throttling rate is not positive', () => {
    const stack = scratch();
    assert.throws(
      () => new GitHubWebhook(stack, 'Webhook', { config, stateMachine: machine(stack), throttlingRateLimit: 0 }),
      /GitHubWebhookProps\.throttlingRateLimit: 0 must be greater than 0/,
    );
  });

  it('fails when the webhook burst limit is not a whole number', () => {
    const stack = scratch();
    assert.throws(
      () => new GitHubWebhook(stack, 'Webhook', { config, stateMachine: machine(stack), throttlingBurstLimit: 2.5 }),
      /GitHubWebhookProps\.throttlingBurstLimit: 2\.5 must be a whole number of at least 1/,
    );
  });

  it('fails when a function memory size is outside Lambda limits', () => {
    assert.throws(() => new CutoverFunction(scratch(), 'Fn', { name: 'plan', memorySize: 64 }), /CutoverFunctionProps\.memorySize: 64 is not a valid Lambda memory size; use a whole number of MiB from 128 to 10240/);
  });

  it('fails when a function timeout is outside Lambda limits', () => {
    assert.throws(() => new CutoverFunction(scratch(), 'Fn', { name: 'plan', timeout: Duration.minutes(20) }), /CutoverFunctionProps\.timeout: 20 minutes is outside Lambda's limits/);
  });

  it('fails when the function name is not in FUNCTIONS', () => {
    assert.throws(() => new CutoverFunction(scratch(), 'Fn', { name: 'nope' as 'plan' }), /CutoverFunctionProps\.name: "nope" is not a cutover function; use one of github-webhook, plan/);
  });

  it('fails when the environment would exceed the Lambda limit', () => {
    assert.throws(
      () => new CutoverFunction(scratch(), 'Fn', { name: 'plan', environment: { CUTOVER_CONFIG: 'x'.repeat(4000) } }),
      /CutoverFunctionProps\.environment: the environment of function "plan" is \d+ bytes; Lambda allows 4096 bytes/,
    );
  });

  it('fails when an alarm trigger is created for a config without alarms', () => {
    const noAlarms = loadConfigFile(SAMPLE);
    (noAlarms.services['hello-world']!.environments.production as { alarms: string[] }).alarms = [];
    const stack = scratch();
    const table = new LedgerTable(stack, 'Ledger').table;
    assert.throws(() => new AlarmTrigger(stack, 'Alarms', { config: noAlarms, table, rollbackStateMachineArn: ROLLBACK_ARN }), /AlarmTriggerProps\.config: no environment lists "alarms"; add the CloudWatch alarm names/);
  });

  it('fails when the alarm dead-letter retention is outside SQS limits', () => {
    const stack = scratch();
    const table = new LedgerTable(stack, 'Ledger').table;
    assert.throws(() => new AlarmTrigger(stack, 'Alarms', { config, table, rollbackStateMachineArn: ROLLBACK_ARN, deadLetterRetention: Duration.days(30) }), /AlarmTriggerProps\.deadLetterRetention: 30 days is outside SQS limits; use 1 minute to 14 days/);
  });

  it('fails when the table name is invalid', () => {
    assert.throws(() => new LedgerTable(scratch(), 'Ledger', { tableName: 'a b' }), /LedgerTableProps\.tableName: "a b" is not a valid DynamoDB table name/);
  });
});

describe('bin/app.ts', () => {
  function synth(context: Record<string, unknown>) {
    const outdir = mkdtempSync(join(tmpdir(), 'cutover-app-'));
    return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT_DIR, 'bin/app.ts')], {
      cwd: ROOT_DIR,
      encoding: 'utf8',
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }) },
    });
  }

  it('ends synth of an invalid config with the config error, exit 1, no stack trace', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cutover-cfg-')), 'bad.json');
    const raw = sampleRaw();
    delete raw.services['hello-world'].environments.production.cluster;
    writeFileSync(file, JSON.stringify(raw));
    const result = synth({ 'cutover:config': file });
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`Invalid cutover config in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(result.stderr, /services\.hello-world\.environments\.production\.cluster: required: add this field/);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  });

  it('ends synth of a missing config file with the path and the fix', () => {
    const result = synth({ 'cutover:config': '/nonexistent/cutover.json' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /Cannot read cutover config file \/nonexistent\/cutover\.json/);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  });

  it('synthesizes the sample config with the cdk-nag packs', () => {
    const result = synth({ 'cutover:config': SAMPLE, 'cutover:stackName': 'CutoverTest', 'cutover:taskRoleArns': TASK_ROLES.join(',') });
    assert.equal(result.status, 0, result.stderr);
  });

  it('ends synth of a fleet too large for one stack with the limit and the ways out, exit 1, no stack trace; cutover:managedPoliciesPerRole=20 lets it synthesize', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cutover-cfg-')), 'fleet.json');
    writeFileSync(file, JSON.stringify(fleetConfigRaw(100)));
    const refused = synth({ 'cutover:config': file, 'cutover:taskRoleArns': TASK_ROLES.join(',') });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^CutoverStackProps\.config: the permissions of function "Database" need more than 10 managed policies .*cutover:managedPoliciesPerRole.*Split the services over several cutover stacks/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    const raised = synth({ 'cutover:config': file, 'cutover:taskRoleArns': TASK_ROLES.join(','), 'cutover:managedPoliciesPerRole': '20' });
    assert.equal(raised.status, 0, raised.stderr);
  });

  it('ends synth of an invalid cutover:managedPoliciesPerRole with the context key and the range, exit 1', () => {
    const result = synth({ 'cutover:config': SAMPLE, 'cutover:taskRoleArns': TASK_ROLES.join(','), 'cutover:managedPoliciesPerRole': 'lots' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^Context "cutover:managedPoliciesPerRole": "lots" is not a whole number from 1 to 20/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  it('ends synth without cutover:taskRoleArns with the prop error, exit 1, no stack trace', () => {
    const result = synth({ 'cutover:config': SAMPLE });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^CutoverStackProps\.taskRoleArns: .*cutover:taskRoleArns/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });
});
