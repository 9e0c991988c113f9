import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, findTarget, loadConfigFile, parseConfig } from '../../lib/config';
import { configRegionAndAccount } from '../../lib/config/load';
import { productionOnly } from '../helpers/plans';

const SAMPLE = new URL('../fixtures/hello-world-production.json', import.meta.url).pathname;
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

describe('the sample config: staging, then production', () => {
  const REAL_SAMPLE = new URL('../../lib/config/samples/hello-world.json', import.meta.url).pathname;

  it('pushes to master deploy to staging; production promotes from staging automatically, with an approval and a change window', () => {
    const config = loadConfigFile(REAL_SAMPLE);
    const svc = config.services['hello-world']!;
    assert.deepEqual(Object.keys(svc.environments), ['staging', 'production']);
    assert.equal(svc.branches.master, 'staging');
    assert.deepEqual(svc.environments.production!.promotion, { from: 'staging', auto: true, soakSeconds: 60 });
    assert.equal(svc.environments.production!.approval, 'before-traffic');
    assert.ok(svc.environments.production!.windows.length > 0);
  });

  it('the tests\' single-environment fixture is the sample without staging (productionOnly), so the two cannot drift', () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/hello-world-production.json', import.meta.url), 'utf8'));
    assert.deepEqual(fixture, productionOnly(JSON.parse(readFileSync(REAL_SAMPLE, 'utf8'))));
  });
});

describe('configRegionAndAccount', () => {
  const raw = () => JSON.parse(readFileSync(new URL('../../lib/config/samples/hello-world.json', import.meta.url), 'utf8'));

  it('reads the region and account of the config\'s ARNs and image repositories', () => {
    assert.deepEqual(configRegionAndAccount(parseConfig(raw())), { region: 'us-east-1', accountId: '123456789012' });
    const moved = JSON.parse(JSON.stringify(raw()).replace(/us-east-1/g, 'eu-west-1').replace(/123456789012/g, '210987654321'));
    assert.deepEqual(configRegionAndAccount(parseConfig(moved)), { region: 'eu-west-1', accountId: '210987654321' });
  });

  it('names the two resources when the config mixes regions (a twin is one region of one account)', () => {
    const mixed = raw();
    mixed.services['hello-world'].environments.staging.imageRepository = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-world';
    assert.throws(() => configRegionAndAccount(parseConfig(mixed)), (err: Error) => err instanceof ConfigError && /us-east-1\/123456789012 \(.*\) and eu-west-1\/123456789012 \(123456789012\.dkr\.ecr\.eu-west-1/.test(err.message));
  });
});

describe('promotion and change window config', () => {
  const raw = () => JSON.parse(readFileSync(new URL('../../lib/config/samples/hello-world.json', import.meta.url), 'utf8'));
  it('fails naming the field: promotion from an unknown environment, from itself, a cycle', () => {
    const unknown = raw();
    unknown.services['hello-world'].environments.production.promotion.from = 'qa';
    assert.throws(() => parseConfig(unknown), /environments\.production\.promotion\.from: environment "qa" is not defined; promote from one of: staging/);
    const self = raw();
    self.services['hello-world'].environments.production.promotion.from = 'production';
    assert.throws(() => parseConfig(self), /cannot promote from itself/);
    const cycle = raw();
    cycle.services['hello-world'].environments.staging.promotion = { from: 'production' };
    assert.throws(() => parseConfig(cycle), /promotions form a cycle/);
  });
  it('fails naming the field: an unknown time zone, a bad time, a freeze that ends before it starts', () => {
    const zone = raw();
    zone.services['hello-world'].environments.production.windows[0].timezone = 'Mars/Olympus';
    assert.throws(() => parseConfig(zone), /windows\.0\.timezone: use an IANA time zone name/);
    const time = raw();
    time.services['hello-world'].environments.production.windows[0].start = '25:00';
    assert.throws(() => parseConfig(time), /windows\.0\.start: use 24-hour HH:mm/);
    const freeze = raw();
    freeze.services['hello-world'].environments.production.freezes[0].until = '2026-12-01T00:00:00Z';
    assert.throws(() => parseConfig(freeze), /freezes\.0\.until: until must be after from/);
    const offset = raw();
    offset.services['hello-world'].environments.production.freezes[0].from = '2026-12-24T00:00:00';
    assert.throws(() => parseConfig(offset), /freezes\.0\.from: use an ISO-8601 time with an offset/);
  });
});
