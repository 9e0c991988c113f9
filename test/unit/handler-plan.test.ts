import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeploymentPlan } from '../../lib/domain/plan';
import { handler } from '../../lambdas/plan/handler';
import { ConfigError } from '../../lib/config';

const SAMPLE_TEXT = readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8');
const SHA = 'b'.repeat(40);
const event = (input: unknown = { service: 'hello-world', environment: 'production', release: { commit: SHA } }) => ({
  input,
  execution: { id: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-9', name: 'run-9', startTime: '2024-05-01T12:00:00.000Z' },
});

describe('plan handler', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.CUTOVER_CONFIG;
    process.env.CUTOVER_CONFIG = SAMPLE_TEXT;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.CUTOVER_CONFIG;
    else process.env.CUTOVER_CONFIG = saved;
  });

  it('resolves the plan from CUTOVER_CONFIG', async () => {
    const plan = (await handler(event())) as DeploymentPlan;
    assert.equal(plan.deploymentId, 'run-9');
    assert.equal(plan.service, 'hello-world');
    assert.equal(plan.cluster, 'hello-world');
    assert.equal(plan.image, `123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world:${SHA}`);
  });

  it('reads CUTOVER_CONFIG on each call (a changed config changes the plan)', async () => {
    const raw = JSON.parse(SAMPLE_TEXT);
    raw.services['hello-world'].environments.production.cluster = 'other-cluster';
    process.env.CUTOVER_CONFIG = JSON.stringify(raw);
    const plan = await handler(event());
    assert.equal(plan.cluster, 'other-cluster');
  });

  it('fails with a ConfigError naming both variables when neither CUTOVER_CONFIG_FILE nor CUTOVER_CONFIG is set', async () => {
    delete process.env.CUTOVER_CONFIG;
    await assert.rejects(handler(event()), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^Neither CUTOVER_CONFIG_FILE nor CUTOVER_CONFIG is set/);
      return true;
    });
  });

  it('reads the bundled config file named by CUTOVER_CONFIG_FILE (relative to LAMBDA_TASK_ROOT), once', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cutover-task-'));
    writeFileSync(join(root, 'cutover-config.json'), SAMPLE_TEXT);
    delete process.env.CUTOVER_CONFIG;
    process.env.CUTOVER_CONFIG_FILE = 'cutover-config.json';
    process.env.LAMBDA_TASK_ROOT = root;
    try {
      assert.equal(((await handler(event())) as DeploymentPlan).service, 'hello-world');
      // Read once per container: a file changed under a running function is not re-read.
      writeFileSync(join(root, 'cutover-config.json'), '{"services":{}}');
      assert.equal(((await handler(event())) as DeploymentPlan).service, 'hello-world');
    } finally {
      delete process.env.CUTOVER_CONFIG_FILE;
      delete process.env.LAMBDA_TASK_ROOT;
    }
  });

  it('names CUTOVER_CONFIG_FILE and the path when the bundled file is missing', async () => {
    delete process.env.CUTOVER_CONFIG;
    process.env.CUTOVER_CONFIG_FILE = '/nonexistent/cutover-config.json';
    try {
      await assert.rejects(handler(event()), /CUTOVER_CONFIG_FILE \(\/nonexistent\/cutover-config\.json\): Cannot read cutover config file/);
    } finally {
      delete process.env.CUTOVER_CONFIG_FILE;
    }
  });

  it('fails with a ConfigError when CUTOVER_CONFIG is not JSON', async () => {
    process.env.CUTOVER_CONFIG = '{services:';
    await assert.rejects(handler(event()), (err: Error) => err instanceof ConfigError && /CUTOVER_CONFIG is not valid JSON/.test(err.message));
  });

  it('passes operator mistakes through as Cutover.InvalidInput', async () => {
    await assert.rejects(handler(event({ service: 'hello-world', environment: 'staging', release: { commit: SHA } })), {
      name: 'Cutover.InvalidInput',
      message: /environment: "staging" is not configured/,
    });
  });

  it('rejects a malformed task event (no execution context) as Cutover.InvalidInput', async () => {
    await assert.rejects(handler({ input: {} }), { name: 'Cutover.InvalidInput', message: /^plan: malformed task input/ });
  });
});
