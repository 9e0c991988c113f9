import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, findTarget, loadConfigFile, parseConfig } from '../../lib/config';

const SAMPLE = new URL('../../lib/config/samples/hello-world.json', import.meta.url).pathname;
const sampleRaw = () => JSON.parse(readFileSync(SAMPLE, 'utf8'));

describe('config', () => {
  it('loads the sample config with defaults applied', () => {
    const config = loadConfigFile(SAMPLE);
    const env = config.services['hello-world']!.environments.production!;
    assert.deepEqual(env.strategy, { type: 'canary', percent: 10, bakeSeconds: 300 });
    assert.equal(env.database?.migration.timeoutSeconds, 1800);
  });

  it('maps Codertocat/Hello-World master to production (GitHub names case-insensitive)', () => {
    const config = loadConfigFile(SAMPLE);
    assert.equal(findTarget(config, { github: 'codertocat/hello-world' }, 'master')?.environmentName, 'production');
    assert.equal(findTarget(config, { github: 'Codertocat/Hello-World' }, 'develop'), undefined);
    assert.equal(findTarget(config, { codecommit: 'Hello-World' }, 'master'), undefined);
  });

  it('fails with the path and the fix for a bad percent', () => {
    const raw = sampleRaw();
    raw.services['hello-world'].environments.production.strategy.percent = 150;
    assert.throws(() => parseConfig(raw, 'cfg.json'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /cfg\.json/);
      assert.match(err.message, /services\.hello-world\.environments\.production\.strategy\.percent: a canary sends 1-99 percent/);
      return true;
    });
  });

  it('fails when a branch maps to an undefined environment', () => {
    const raw = sampleRaw();
    raw.services['hello-world'].branches.main = 'staging';
    assert.throws(() => parseConfig(raw), /branches\.main: environment "staging" is not defined/);
  });

  it('fails when both an instance and a cluster identifier are given', () => {
    const raw = sampleRaw();
    raw.services['hello-world'].environments.production.database.clusterIdentifier = 'c1';
    assert.throws(() => parseConfig(raw), /exactly one of instanceIdentifier/);
  });

  it('fails on unknown fields, naming them', () => {
    const raw = sampleRaw();
    raw.services['hello-world'].environments.production.stratgy = {};
    assert.throws(() => parseConfig(raw), /unknown field\(s\) "stratgy"/);
  });

  it('fails when a required field is missing', () => {
    const raw = sampleRaw();
    delete raw.services['hello-world'].environments.production.cluster;
    assert.throws(() => parseConfig(raw), /production\.cluster: required/);
  });

  it('fails when restore policy is combined with snapshot never', () => {
    const raw = sampleRaw();
    raw.services['hello-world'].environments.production.databaseFailurePolicy = 'restore';
    raw.services['hello-world'].environments.production.database.snapshot = 'never';
    assert.throws(() => parseConfig(raw), /databaseFailurePolicy: databaseFailurePolicy "restore" needs a snapshot/);
  });

  it('fails for a missing file with a clear message', () => {
    assert.throws(() => loadConfigFile('/nonexistent/cutover.json'), /Cannot read cutover config file \/nonexistent\/cutover.json/);
  });
});
