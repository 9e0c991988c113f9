/**
 * CDK app entry (cdk.json "app"). Context:
 *  - `cutover:config`    path of the cutover config (JSON), relative to the current directory
 *  - `cutover:stackName` stack name (default `Cutover`); the state machines and the webhook secret are
 *                        named after it (`<stack>-deploy`, `<stack>/github-webhook-secret`)
 *  - `cutover:taskRoleArns` the ECS task and execution role ARNs the functions may pass to ECS (a JSON
 *                        array in cdk.json, or ARNs separated by commas with `-c`)
 *  - `cutover:managedPoliciesPerRole` managed policies a function's role may have (default 10, IAM's
 *                        default quota; up to 20 once the account's quota was raised): ~90 services
 *                        per stack with 10, ~175 with 20
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

const taskRoleArns = taskRoles(app.node.tryGetContext('cutover:taskRoleArns'));
const maxManagedPoliciesPerRole = policiesPerRole(app.node.tryGetContext('cutover:managedPoliciesPerRole'));

try {
  const config = loadConfigFile(configPath);
  new CutoverStack(app, stackName, {
    config,
    taskRoleArns,
    maxManagedPoliciesPerRole,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
} catch (err) {
  // A config or prop error is the user's to fix: its message, not a stack trace.
  if (err instanceof ConfigError || (err instanceof Error && /^[A-Za-z]+Props\.[A-Za-z]/.test(err.message))) fail(err.message);
  throw err;
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));

/** `cutover:taskRoleArns`: a JSON array (cdk.json) or a comma-separated string (`-c`). */
function taskRoles(value: unknown): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) {
    fail(`Context "cutover:taskRoleArns": ${JSON.stringify(value)} is not a list of role ARNs; use a JSON array in cdk.json or -c cutover:taskRoleArns=arn1,arn2.`);
  }
  return list.map((v) => v.trim()).filter(Boolean);
}

/** `cutover:managedPoliciesPerRole`: a number (cdk.json) or a numeric string (`-c`), 1-20. */
function policiesPerRole(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 20) {
    fail(`Context "cutover:managedPoliciesPerRole": ${JSON.stringify(value)} is not a whole number from 1 to 20 (managed policies per IAM role: 10 by default, up to 20 once the account's IAM quota was raised).`);
  }
  return n;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
