/**
 * cdk-nag (v3): the AwsSolutions and Serverless packs find nothing unacknowledged, for both test configs.
 *
 * cdk-nag 3 is a policy-validation plugin, not an aspect: it adds no annotations. Registered with
 * `Validations.of(app).addPlugins(...)` (as bin/app.ts does), any unacknowledged error *or warning* makes
 * `app.synth()` throw "Validation failed". Each pack's `validateScope(app)` returns the violations
 * themselves, which these tests list on failure.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks, ServerlessChecks, type NagPack } from 'cdk-nag';
import { ROOT_DIR } from '../../lib/catalog';
import { loadConfigFile } from '../../lib/config';
import { CutoverStack } from '../../lib/constructs';
import { TASK_ROLES } from '../helpers/stacks';

const cdkContext = JSON.parse(readFileSync(join(ROOT_DIR, 'cdk.json'), 'utf8')).context;
const packs = (): NagPack[] => [new AwsSolutionsChecks(), new ServerlessChecks()];

/** Prepare an app like bin/app.ts does (packs registered), without bundling. */
function nagApp(configFile: string): { app: App; stack: CutoverStack } {
  const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
  const stack = new CutoverStack(app, 'Cutover', { config: loadConfigFile(join(ROOT_DIR, configFile)), taskRoleArns: TASK_ROLES });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, stack };
}

/** Every unacknowledged finding, as `severity rule at path` lines. */
function findings(app: App): string[] {
  return packs().flatMap((pack) =>
    pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`)),
  );
}

for (const configFile of ['lib/config/samples/hello-world.json', 'test/constructs/fixtures/codecommit-aurora.json']) {
  describe(`cdk-nag with ${configFile}`, () => {
    const { app } = nagApp(configFile);
    // Act (once): synth runs the registered packs and throws on any unacknowledged finding.
    let synthError: unknown;
    try {
      app.synth();
    } catch (err) {
      synthError = err;
    }

    it('synthesizes with the packs registered', () => {
      assert.equal(synthError, undefined, String(synthError));
    });

    it('has zero unacknowledged AwsSolutions and Serverless errors and warnings', () => {
      assert.deepEqual(findings(app), []);
    });

    it('acknowledges every finding with a reason', () => {
      const acknowledged = app.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        .flatMap((m) => Object.entries(m.data as Record<string, string>));
      assert.ok(acknowledged.length > 0);
      for (const [id, reason] of acknowledged) assert.ok(reason.length >= 40, `${id} has a specific reason: "${reason}"`);
    });

    it('acknowledges the wildcard of the migration task’s log streams (logs:GetLogEvents) with why it cannot be narrower', () => {
      const acknowledged = app.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        .flatMap((m) => Object.entries(m.data as Record<string, string>))
        .filter(([id]) => id.includes('AwsSolutions-IAM5[Resource::') && /:log-group:\*:log-stream:\*\/[^/]+\/\*\]$/.test(id));
      assert.ok(acknowledged.length > 0, 'the GetLogEvents stream wildcard is acknowledged');
      for (const [id, reason] of acknowledged) assert.match(reason, /awslogs.*<prefix>\/<container name>\/<task id>/, id);
    });
  });
}

describe('cdk-nag harness', () => {
  it('reports an unacknowledged finding (so zero findings above means something)', () => {
    const { app, stack } = nagApp('lib/config/samples/hello-world.json');
    new logs.CfnLogGroup(stack, 'NoRetention', {});
    assert.throws(() => app.synth(), /Validation failed/);
    assert.deepEqual(findings(app), ['warning Serverless-CloudWatchLogGroupRetentionPeriod at Cutover/NoRetention']);
  });
});
