/**
 * CDK app entry (cdk.json "app"). Context:
 *  - `cutover:config`    path of the cutover config (JSON), relative to the current directory
 *  - `cutover:stackName` stack name (default `Cutover`)
 * An invalid config ends synth with the path of each bad field and the fix, without a stack trace.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ConfigError, loadConfigFile } from '../lib/config';
import { CutoverStack } from '../lib/constructs';

const app = new App();
const configPath: unknown = app.node.tryGetContext('cutover:config');
const stackName: unknown = app.node.tryGetContext('cutover:stackName') ?? 'Cutover';

if (typeof configPath !== 'string' || configPath === '') {
  fail('Context "cutover:config" is not set: pass the config file with `-c cutover:config=path/to/cutover.json` or set it in cdk.json.');
}
if (typeof stackName !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
  fail(`Context "cutover:stackName": ${JSON.stringify(stackName)} is not a valid stack name; use letters, digits and "-", starting with a letter.`);
}

try {
  const config = loadConfigFile(configPath);
  new CutoverStack(app, stackName, {
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
