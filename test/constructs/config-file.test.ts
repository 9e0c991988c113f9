/**
 * The config reaches a deployed function as a file in its bundle, not in its environment (Lambda caps
 * a function's environment at 4 KB): a real bundling synth of the `plan` function with a config far
 * over 4 KB, then the bundled handler, imported from the asset directory as Lambda would
 * (LAMBDA_TASK_ROOT = the asset), resolves a plan from that file.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { ROOT_DIR } from '../../lib/catalog';
import { loadConfigFile, parseConfig, type Config } from '../../lib/config';
import { CutoverFunction } from '../../lib/constructs';

/** The sample's one service, copied `n` times under other names (each with its own repository). */
function manyServices(n: number): Config {
  const raw = JSON.parse(readFileSync(join(ROOT_DIR, 'test/fixtures/hello-world-production.json'), 'utf8'));
  const [name, service] = Object.entries(raw.services)[0] as [string, { repository: { github: string } }];
  raw.services = Object.fromEntries(Array.from({ length: n }, (_, i) => [`${name}-${i}`, { ...service, repository: { github: `${service.repository.github}-${i}` } }]));
  return parseConfig(raw, 'test');
}

describe('config file in the bundle', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cutover-bundle-'));
  after(() => rmSync(outdir, { recursive: true, force: true }));

  it('bundles a config of 10 services (far over 4 KB) as cutover-config.json, and the bundled handler reads it', async () => {
    const config = manyServices(10);
    assert.ok(JSON.stringify(config).length > 4096 * 2, 'the config is far larger than Lambda allows in the environment');
    const app = new App({ outdir });
    const stack = new Stack(app, 'Bundled');
    const fn = new CutoverFunction(stack, 'Plan', { name: 'plan', config });
    const assembly = app.synth();

    const code = (stack.resolve((fn.lambda.node.defaultChild as any).code) as { s3Key: string }).s3Key;
    const assetDir = join(assembly.directory, `asset.${code.replace(/\.zip$/, '')}`);
    const file = join(assetDir, 'cutover-config.json');
    assert.ok(existsSync(file), `${file} is in the bundle`);
    assert.deepEqual(loadConfigFile(file), config);
    const env = (stack.resolve((fn.lambda.node.defaultChild as any).environment) as { variables: Record<string, string> }).variables;
    assert.equal(env.CUTOVER_CONFIG_FILE, 'cutover-config.json');
    assert.equal(env.CUTOVER_CONFIG, undefined, 'no config in the environment');

    // Run the bundle as Lambda would: the handler module from the asset, LAMBDA_TASK_ROOT = the asset.
    const saved = { ...process.env };
    try {
      delete process.env.CUTOVER_CONFIG;
      process.env.CUTOVER_CONFIG_FILE = env.CUTOVER_CONFIG_FILE;
      process.env.LAMBDA_TASK_ROOT = assetDir;
      const bundled = (await import(pathToFileURL(join(assetDir, 'index.mjs')).href)) as { handler: (e: unknown) => Promise<{ service: string; environment: string }> };
      const plan = await bundled.handler({
        input: { service: 'hello-world-7', environment: 'production', release: { commit: 'c'.repeat(40) } },
        execution: { id: 'arn:aws:states:us-east-1:123456789012:execution:Bundled-deploy:run-1', name: 'run-1', startTime: '2026-01-01T00:00:00.000Z' },
      });
      assert.equal(plan.service, 'hello-world-7');
      assert.equal(plan.environment, 'production');
    } finally {
      for (const k of ['CUTOVER_CONFIG_FILE', 'LAMBDA_TASK_ROOT', 'CUTOVER_CONFIG']) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
