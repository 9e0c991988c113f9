/**
 * GitHub webhook (API Gateway HTTP API, payload format 2.0): verifies the delivery's signature and
 * starts a `deploy` execution for a push to a configured repository and branch.
 *
 * Checks, in order: body size (413) → GitHub headers (400) → signature (401) → JSON (400) → event.
 * `ping` → 200; a deployable `push` → 202 `{executionArn, status: 'started'|'queued', behind?, message}`
 * (the execution is named by the delivery id, so a redelivery answers with the same execution;
 * `queued` when another execution holds the environment's lock — it deploys after that one, unless a
 * newer push comes first: lib/domain/deploy-queue.ts); `check_run` / `check_suite` (completed) and
 * `status` (decided) → 200 `{checks: [{service, environment, deploymentId, status}]}`: for each
 * environment of that repository whose deployment waits at the checks gate for that commit (the lock's
 * `pendingKind: checks`), the commit's checks are read again from GitHub and a decided gate
 * (`passed` / `failed`) answers the wait (SendTaskSuccess); anything else → 200 `{ignored: reason}`.
 *
 * Environment: `CUTOVER_CONFIG` (config JSON), `STATE_MACHINE_ARN` (the deploy state machine),
 * `WEBHOOK_SECRET_ARN` (Secrets Manager secret holding the webhook secret), `TABLE_NAME` (optional: the
 * ledger table, read to say whether the push was queued).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { verify } from '@octokit/webhooks-methods';
import { CONFIG_ENV_VAR, CONFIG_FILE_ENV_VAR, ConfigError, configFromEnv, type Config } from '../../lib/config';
import { startExecutionByName } from '../../lib/aws/sfn';
import { getWebhookSecret } from '../../lib/aws/webhook-secret';
import { decidePush, executionArnFor, isPushPayload, isValidExecutionName } from '../../lib/domain/github-push';
import { pushAnswer } from '../../lib/domain/deploy-queue';
import { checksEventCommit, decideChecks } from '../../lib/domain/checks-gate';
import { readChecks } from '../../lib/aws/github';
import { succeedTask } from '../../lib/aws/task-tokens';
import { Ledger } from '../../lib/aws/ledger';
import { logger } from '../../lib/observability';

/** Largest raw body accepted, in bytes (1 MiB). */
export const MAX_BODY_BYTES = 1_048_576;

type Result = APIGatewayProxyStructuredResultV2;

function json(statusCode: number, body: unknown): Result {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

class MisconfiguredError extends Error {}

interface Settings {
  readonly config: Config;
  readonly stateMachineArn: string;
  readonly secretArn: string;
}

let settings: { key: string; value: Settings } | undefined;
const reportedProblems = new Set<string>();

/** Settings from the environment, read once per cold start (again only if the variables change). */
function loadSettings(): Settings {
  const env = process.env;
  const key = JSON.stringify([env[CONFIG_FILE_ENV_VAR], env[CONFIG_ENV_VAR], env.STATE_MACHINE_ARN, env.WEBHOOK_SECRET_ARN]);
  if (settings?.key === key) return settings.value;
  const stateMachineArn = env.STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new MisconfiguredError('STATE_MACHINE_ARN is not set: the function needs the deploy state machine ARN');
  if (!executionArnFor(stateMachineArn, 'x')) {
    throw new MisconfiguredError('STATE_MACHINE_ARN is not a Step Functions state machine ARN');
  }
  const secretArn = env.WEBHOOK_SECRET_ARN;
  if (!secretArn) throw new MisconfiguredError('WEBHOOK_SECRET_ARN is not set: the function needs the webhook secret ARN');
  let config: Config;
  try {
    config = configFromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // The first line names the variable; the full list of problems goes to the log only.
      throw new MisconfiguredError(err.message.split('\n', 1)[0]!, { cause: err });
    }
    throw err;
  }
  const value = { config, stateMachineArn, secretArn };
  settings = { key, value };
  return value;
}

function misconfigured(err: MisconfiguredError): Result {
  if (!reportedProblems.has(err.message)) {
    reportedProblems.add(err.message);
    const detail = err.cause instanceof Error ? err.cause.message : undefined;
    logger.error('function is misconfigured', { problem: err.message, detail });
  }
  return json(500, { message: err.message });
}

/** Header lookup, case-insensitive. */
function headerReader(headers: APIGatewayProxyEventV2['headers'] | undefined): (name: string) => string | undefined {
  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(headers ?? {})) if (typeof v === 'string') lower.set(k.toLowerCase(), v);
  return (name) => lower.get(name);
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'UnknownError';
}

export const handler = async (event: APIGatewayProxyEventV2, context?: Context): Promise<Result> => {
  logger.resetKeys();
  if (context) logger.addContext(context);
  try {
    return await handle(event);
  } finally {
    logger.resetKeys();
  }
};

async function handle(event: APIGatewayProxyEventV2): Promise<Result> {
  let s: Settings;
  try {
    s = loadSettings();
  } catch (err) {
    if (err instanceof MisconfiguredError) return misconfigured(err);
    throw err;
  }

  // 1. size (of the raw bytes)
  const raw = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > MAX_BODY_BYTES) {
    logger.warn('webhook rejected: body too large', { bytes: raw.length });
    return json(413, { message: `the body is ${raw.length} bytes; at most ${MAX_BODY_BYTES} are accepted` });
  }

  // 2. GitHub headers
  const header = headerReader(event.headers);
  const eventName = header('x-github-event');
  const deliveryId = header('x-github-delivery');
  if (!eventName || !deliveryId) {
    logger.warn('webhook rejected: GitHub headers missing', { event: eventName, deliveryId });
    return json(400, { message: 'X-GitHub-Event and X-GitHub-Delivery headers are required' });
  }
  logger.appendKeys({ deliveryId, event: eventName });
  if (!isValidExecutionName(deliveryId)) {
    logger.warn('webhook rejected: delivery id cannot name an execution');
    return json(400, { message: 'X-GitHub-Delivery must be 1-80 characters without whitespace or special characters' });
  }
  if (raw.length === 0) {
    logger.warn('webhook rejected: empty body');
    return json(400, { message: 'the request has no body' });
  }

  // 3. signature (HMAC-SHA256 of the raw body)
  const signature = header('x-hub-signature-256');
  if (!signature) {
    logger.warn('webhook rejected: no signature');
    return json(401, { message: 'X-Hub-Signature-256 is required' });
  }
  let secret: string;
  try {
    secret = await getWebhookSecret(s.secretArn);
  } catch (err) {
    logger.error('cannot read the webhook secret', { error: errorName(err) });
    return json(502, { message: `could not read the webhook secret: ${errorName(err)}` });
  }
  const text = raw.toString('utf8');
  let valid = false;
  try {
    valid = await verify(secret, text, signature);
  } catch {
    valid = false;
  }
  if (!valid) {
    logger.warn('webhook rejected: bad signature');
    return json(401, { message: 'the signature does not match the body' });
  }

  // 4. JSON (GitHub's form content type carries the JSON in the `payload` field)
  let payload: unknown;
  try {
    const contentType = header('content-type') ?? '';
    const jsonText = contentType.startsWith('application/x-www-form-urlencoded')
      ? (new URLSearchParams(text).get('payload') ?? '')
      : text;
    payload = JSON.parse(jsonText);
  } catch {
    logger.warn('webhook rejected: body is not JSON');
    return json(400, { message: 'the body is not valid JSON' });
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    logger.warn('webhook rejected: body is not a JSON object');
    return json(400, { message: 'the body is not a JSON object' });
  }

  // 5. event routing
  if (eventName === 'ping') {
    logger.info('ping');
    return json(200, { ok: true, zen: (payload as { zen?: unknown }).zen });
  }
  if (eventName === 'check_run' || eventName === 'check_suite' || eventName === 'status') return checksChanged(s.config, eventName, payload);
  if (eventName !== 'push') return ignored(`event "${eventName}" is not handled`);
  if (!isPushPayload(payload)) {
    logger.warn('webhook rejected: not a push payload');
    return json(400, { message: 'the body is not a push event payload' });
  }
  logger.appendKeys({ repository: payload.repository.full_name, ref: payload.ref });

  const decision = decidePush(payload, s.config, deliveryId);
  if (decision.kind === 'ignore') return ignored(decision.reason);
  return startDeployment(s.stateMachineArn, decision.executionName, decision.input, {
    serviceName: decision.input.service, // `service` is Powertools' own key (cutover)
    environment: decision.input.environment,
    commit: decision.input.release.commit,
    migrations: decision.input.release.migrations,
  });
}

/**
 * The environment's lock as read now, to tell a queued push from one that started (`TABLE_NAME`);
 * undefined without a table or when it cannot be read (the push was started either way).
 */
async function lockOf(summary: Record<string, unknown>) {
  const table = process.env.TABLE_NAME;
  if (!table) return undefined;
  try {
    return await new Ledger(table).getLock(String(summary.serviceName), String(summary.environment));
  } catch (err) {
    logger.warn('could not read the lock to tell whether the push was queued', { error: errorName(err) });
    return undefined;
  }
}

/**
 * A commit's checks changed: end the checks-gate waits of deployments of that commit whose required
 * checks are now decided. Each environment's outcome is reported; one that cannot be read is named
 * with why (the gate's own timeout still ends its wait).
 */
async function checksChanged(config: Config, eventName: string, payload: unknown): Promise<Result> {
  const changed = checksEventCommit(eventName, payload);
  if (!changed) return ignored(`${eventName} event that decides no check (not completed, or pending)`);
  const table = process.env.TABLE_NAME;
  if (!table) return ignored('TABLE_NAME is not set: the function cannot find deployments waiting for checks');
  const ledger = new Ledger(table);
  const results: Array<Record<string, unknown>> = [];
  for (const [service, svc] of Object.entries(config.services)) {
    if (!('github' in svc.repository) || svc.repository.github.toLowerCase() !== changed.repository.toLowerCase() || !svc.checks || !svc.github) continue;
    for (const environment of Object.keys(svc.environments)) {
      const where = { service, environment };
      try {
        const lock = await ledger.getLock(service, environment);
        if (!lock?.pendingTaskToken || lock.pendingKind !== 'checks' || lock.commit.toLowerCase() !== changed.sha) continue;
        const { checkRuns, statuses } = await readChecks(svc.github, svc.repository.github, changed.sha);
        const decision = decideChecks(svc.checks.required, checkRuns, statuses, changed.sha);
        if (decision.status === 'pending') {
          results.push({ ...where, deploymentId: lock.deploymentId, status: 'pending', waitingFor: decision.waitingFor });
          continue;
        }
        const answer = await succeedTask(lock.pendingTaskToken, decision);
        results.push({ ...where, deploymentId: lock.deploymentId, status: decision.status, answer });
        logger.info('checks gate decided by a webhook', { serviceName: service, environment, deploymentId: lock.deploymentId, status: decision.status, answer });
      } catch (err) {
        logger.error('could not decide a checks gate', { serviceName: service, environment, error: errorName(err), message: err instanceof Error ? err.message : String(err) });
        results.push({ ...where, status: 'error', error: `${errorName(err)}: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }
  if (results.length === 0) return ignored(`no deployment waits for the checks of ${changed.repository} ${changed.sha.slice(0, 7)}`);
  return json(200, { checks: results });
}

function ignored(reason: string): Result {
  logger.info('webhook ignored', { decision: 'ignore', reason });
  return json(200, { ignored: reason });
}

async function startDeployment(
  stateMachineArn: string,
  name: string,
  input: unknown,
  summary: Record<string, unknown>,
): Promise<Result> {
  try {
    // Named by the delivery id: a redelivery answers with the execution it started the first time.
    const started = await startExecutionByName({ stateMachineArn, name, input });
    const answer = pushAnswer(started.executionArn, await lockOf(summary));
    logger.info(started.alreadyStarted ? 'redelivery: deployment already started' : answer.message, { decision: 'deploy', executionArn: started.executionArn, status: answer.status, behind: answer.behind?.deploymentId, ...summary });
    return json(202, answer);
  } catch (err) {
    logger.error('could not start the deployment', { decision: 'deploy', error: errorName(err), ...summary });
    return json(502, { message: `could not start the deployment: ${errorName(err)}` });
  }
}
