/**
 * The AWS CLI (v2, Debian's `awscli` package at /usr/bin/aws) against the twin's Step Functions
 * endpoint, as the CLI's printed hint tells operators to use it. Skipped where the CLI is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Twin } from '../../lib/local/twin';
import { outcome, startTwin } from '../helpers/http';

const AWS = '/usr/bin/aws';
const skip = existsSync(AWS) ? false : `the AWS CLI is not installed at ${AWS} (apt-get install -y awscli)`;
const run = promisify(execFile);

/** Run `aws <args> --endpoint-url <twin> --no-cli-pager --output json` with fake credentials, isolated from ~/.aws. */
async function aws(twin: Twin, args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(AWS, [...args, '--endpoint-url', twin.url, '--no-cli-pager', '--output', 'json'], {
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      AWS_ACCESS_KEY_ID: 'AKIDLOCALTWIN',
      AWS_SECRET_ACCESS_KEY: 'local-secret',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/nonexistent/cutover-e2e/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/cutover-e2e/credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
      NO_PROXY: '127.0.0.1,localhost',
    },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('e2e: AWS CLI against the twin', { skip }, () => {
  let twin: Twin;
  let executionArn: string;

  before(async () => {
    twin = await startTwin();
    const started = twin.sfn.startExecution({
      stateMachineArn: twin.deployStateMachineArn,
      name: 'cli-visible',
      input: JSON.stringify({ service: 'hello-world', environment: 'production', release: { commit: 'c0ffee1' } }),
    });
    executionArn = started.executionArn;
    const done = await twin.sfn.waitForExecution(executionArn);
    assert.equal(done.status, 'SUCCEEDED', outcome(twin, executionArn));
  });
  after(async () => {
    await twin?.stop();
  });

  it('aws stepfunctions list-executions lists the execution', async () => {
    const out = await aws(twin, ['stepfunctions', 'list-executions', '--state-machine-arn', twin.deployStateMachineArn]);
    const executions = out.executions as Array<{ executionArn: string; name: string; status: string; stateMachineArn: string; startDate: string }>;
    assert.equal(executions.length, 1);
    assert.equal(executions[0]!.executionArn, executionArn);
    assert.equal(executions[0]!.name, 'cli-visible');
    assert.equal(executions[0]!.status, 'SUCCEEDED');
    assert.equal(executions[0]!.stateMachineArn, twin.deployStateMachineArn);
    // The CLI parsed the epoch-seconds timestamp and printed it as ISO 8601.
    assert.match(executions[0]!.startDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  });

  it('aws stepfunctions get-execution-history returns the events, started to succeeded', async () => {
    const out = await aws(twin, ['stepfunctions', 'get-execution-history', '--execution-arn', executionArn]);
    const events = out.events as Array<{ id: number; type: string; stateEnteredEventDetails?: { name: string } }>;
    assert.ok(events.length > 20, `only ${events.length} events`);
    assert.equal(events[0]!.type, 'ExecutionStarted');
    assert.equal(events.at(-1)!.type, 'ExecutionSucceeded');
    assert.ok(events.some((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === 'ResolvePlan'));
    assert.deepEqual(events.map((e) => e.id), events.map((_, i) => i + 1));
  });
});
