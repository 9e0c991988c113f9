/**
 * cfn-lint (an outside oracle for the template, DESIGN "Independent checks") finds no error in the
 * templates of the sample config, the CodeCommit + Aurora fixture and a 50-service fleet: the shapes
 * `cdk synth` of the sample alone would not show (cluster permissions, listener rules, split alarm
 * rules, many managed policies). The state machines' E3601 is a known false positive (cfn-lint does
 * not apply DefinitionSubstitutions), ignored in their metadata with the reason.
 *
 * cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational, 1 could not run. Skipped
 * when cfn-lint is not installed (.ci/run requires it).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { ROOT_DIR } from '../../lib/catalog';
import { loadConfigFile, type Config } from '../../lib/config';
import { CutoverStack } from '../../lib/constructs';
import { fleetConfig } from '../helpers/fleet';
import { TASK_ROLES } from '../helpers/stacks';

const installed = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;
const cdkContext = JSON.parse(readFileSync(join(ROOT_DIR, 'cdk.json'), 'utf8')).context;

describe('cfn-lint on the synthesized templates', { skip: installed ? false : 'cfn-lint is not on PATH (pip install "cfn-lint==1.51.*")' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-cfn-lint-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string, Config]> = [
    ['Sample', loadConfigFile(join(ROOT_DIR, 'lib/config/samples/hello-world.json'))],
    ['Fixture', loadConfigFile(join(ROOT_DIR, 'test/constructs/fixtures/codecommit-aurora.json'))],
    ['Fleet', fleetConfig(50)],
  ];
  const files = cases.map(([name, config]) => {
    const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
    new CutoverStack(app, name, { config, taskRoleArns: TASK_ROLES, env: { account: '111122223333', region: 'eu-west-1' } });
    const file = join(dir, `${name}.template.json`);
    writeFileSync(file, JSON.stringify(app.synth().getStackByName(name).template, null, 1));
    return file;
  });

  it('reports no error (warnings are allowed) for the sample, the CodeCommit + Aurora fixture and a 50-service fleet', () => {
    const result = spawnSync('cfn-lint', ['--format', 'parseable', ...files], { encoding: 'utf8' });
    const errors = result.stdout.split('\n').filter((line) => /:E\d{4}:/.test(line));
    assert.deepEqual(errors, []);
    assert.equal((result.status ?? 1) & 3, 0, `cfn-lint exit code ${result.status}: ${result.stderr}`);
  });

  it('ignores only E3601 on the state machines, with the reason in their metadata', () => {
    for (const file of files) {
      const template = JSON.parse(readFileSync(file, 'utf8')) as { Resources: Record<string, { Type: string; Metadata?: Record<string, any> }> };
      for (const [id, r] of Object.entries(template.Resources)) {
        const ignored = r.Metadata?.['cfn-lint']?.config?.ignore_checks as string[] | undefined;
        if (r.Type === 'AWS::StepFunctions::StateMachine') {
          assert.deepEqual(ignored, ['E3601'], id);
          assert.match(r.Metadata!['cfn-lint'].config.ignore_reason, /DefinitionSubstitutions/, id);
        } else {
          assert.equal(ignored, undefined, `${id} (${r.Type}) ignores no cfn-lint check`);
        }
      }
    }
  });
});
