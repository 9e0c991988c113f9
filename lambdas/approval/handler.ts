/**
 * approval — answers a deployment's approval gate for an identified caller, if the environment's
 * `approvers` include them. `cutover approve` / `cutover reject` call it.
 *
 * Event: a Lambda function URL request (payload 2.0; AWS Lambda Developer Guide, "Invoking Lambda
 * function URLs") of a URL with AuthType `AWS_IAM`: Lambda has verified the caller's SigV4 signature
 * and passes the caller in `requestContext.authorizer.iam.userArn` — an identity the caller cannot
 * choose, unlike the declared `operator` name. Body (JSON):
 * `{ service, environment, decision: "approve" | "reject", operator, comment?, reason? }`
 * (`reason` required to reject; `comment`, `reason` at most 2000 characters).
 *
 * Returns `{ statusCode, headers, body }`, body JSON `{ message, ... }`:
 *  - 200 answered: approve → the approval is recorded on the deployment record (`approval`: an id,
 *    who, the caller ARN, the approver entry it matched, when, the hash of the wait's token), then the
 *    wait gets SendTaskSuccess `{"approved":true,"operator","callerArn","approvalId","comment"}`; the
 *    first approval of a wait counts (a second one: 409, "approved already"); reject → SendTaskFailure
 *    `Cutover.Rejected`.
 *    Both are audited (`operator-action`, `caller` = the verified ARN).
 *  - 400 bad request (names the field); 403 the caller is not an approver (audited, nothing answered)
 *    or the request carries no IAM identity; 404 no deployment of that environment runs; 409 the
 *    deployment is not waiting for an approval, or the wait ended meanwhile; 405 not a POST.
 *
 * The deployment checks the recorded approval again (`VerifyApproval`), so an answer sent around this
 * function (SendTaskSuccess from the console) never counts where approvers are named.
 *
 * Env: `TABLE_NAME`.
 */
import { randomUUID } from 'node:crypto';
import type { LambdaFunctionURLEventWithIAMAuthorizer as LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import * as z from 'zod/mini';
import { clockNow } from '../../lib/aws/clock';
import { requiredEnv } from '../../lib/aws/env';
import { Ledger } from '../../lib/aws/ledger';
import { failTask, succeedTask } from '../../lib/aws/task-tokens';
import { approvalTokenHash, decideApprovalRequest } from '../../lib/domain/approvers';
import type { DeploymentRecord, LockItem } from '../../lib/domain/ledger-items';
import { NAME_PATTERN } from '../../lib/domain/names';
import { logger } from '../../lib/observability';

const name = z.string().check(z.regex(NAME_PATTERN, 'use the service or environment name as in the config (lower-case letters, digits, "-")'));
const text = (max: number) => z.string().check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(max, `at most ${max} characters`));
const BodySchema = z.object({
  service: name,
  environment: name,
  decision: z.enum(['approve', 'reject']),
  /** The operator's declared name (recorded beside the verified caller). */
  operator: text(200),
  comment: z.optional(text(2000)),
  reason: z.optional(text(2000)),
});
export type ApprovalRequest = z.infer<typeof BodySchema>;

const answer = (statusCode: number, body: Record<string, unknown>): LambdaFunctionURLResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const tableName = () => requiredEnv('TABLE_NAME', 'approval', 'the DynamoDB table name');

function readBody(event: LambdaFunctionURLEvent): unknown {
  if (!event.body) return undefined;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(raw);
  } catch {
    return Symbol('not json');
  }
}

export const handler = async (event: LambdaFunctionURLEvent): Promise<LambdaFunctionURLResult> => {
  const now = clockNow();
  const method = event.requestContext?.http?.method;
  if (method !== 'POST') return answer(405, { message: `use POST with a JSON body {service, environment, decision, operator}; got ${method ?? 'no method'}` });
  const callerArn = event.requestContext?.authorizer?.iam?.userArn;
  if (!callerArn) return answer(403, { message: 'no IAM identity on the request: the approval function URL must use AuthType AWS_IAM and requests must be SigV4-signed (cutover approve does that)' });
  const body = readBody(event);
  if (typeof body === 'symbol') return answer(400, { message: 'the body is not JSON: send {"service","environment","decision":"approve"|"reject","operator"}' });
  const parsed = BodySchema.safeParse(body);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    return answer(400, { message: `bad request: ${fields.join('; ')}` });
  }
  const req = parsed.data;
  if (req.decision === 'reject' && !req.reason) return answer(400, { message: 'reason: say why you reject (it is recorded on the deployment and in the audit timeline)' });
  return decide(req, callerArn, now);
};

async function decide(req: ApprovalRequest, callerArn: string, now: Date): Promise<LambdaFunctionURLResult> {
  const ledger = new Ledger(tableName());
  const where = `${req.service}/${req.environment}`;
  const lock = await ledger.getLock(req.service, req.environment);
  const key = lock && recordKey(req, lock);
  const record = key ? await ledger.getRecord(key) : undefined;
  const decision = decideApprovalRequest({ where, callerArn }, lock, record);
  const base = { service: req.service, environment: req.environment, deploymentId: lock?.deploymentId ?? null, executionArn: lock?.executionArn ?? null, operator: req.operator, callerArn };
  if (decision.kind === 'answer' && !decision.refused) return answer(decision.status, { message: decision.message, ...base });
  // A refusal and a go-ahead both mean a deployment runs (decideApprovalRequest answers 404 without a lock).
  const running = lock!;
  const audit = (message: string, detail: Record<string, unknown>) =>
    ledger.audit({
      at: now.toISOString(),
      service: req.service,
      environment: req.environment,
      kind: 'operator-action',
      deploymentId: running.deploymentId,
      executionArn: running.executionArn,
      actor: req.operator,
      caller: callerArn,
      message,
      detail: { ...detail, deploymentId: running.deploymentId },
    });
  if (decision.kind === 'answer') {
    await audit(`${req.operator} (${callerArn}) may not ${req.decision} deployment ${running.deploymentId}: not an approver`, { action: `${req.decision}-refused`, approvers: record?.approvers });
    logger.warn('approval refused: not an approver', { ...base });
    return answer(decision.status, { message: decision.message, ...base, approvers: record?.approvers ?? [] });
  }
  const { token, matched } = decision;
  if (req.decision === 'reject') {
    const result = await failTask(token, 'Cutover.Rejected', `${req.reason} (rejected by ${req.operator}, ${callerArn})`);
    if (result === 'closed') return closed(where, running);
    await audit(`${req.operator} rejected deployment ${running.deploymentId}: ${req.reason}`, { action: 'reject', reason: req.reason });
    return answer(200, { message: `Rejected deployment ${running.deploymentId} of ${where} as ${req.operator} (${callerArn}): it does not go on (${req.reason}).`, action: 'reject', ...base, reason: req.reason });
  }
  const approval = {
    id: randomUUID(),
    by: req.operator,
    callerArn,
    at: now.toISOString(),
    tokenHash: approvalTokenHash(token),
    ...(matched ? { matched } : {}),
    ...(req.comment ? { comment: req.comment } : {}),
  };
  // Recorded first, bound to this wait (its token's hash): VerifyApproval reads it as soon as the wait ends.
  if (!(await ledger.recordApproval(key!, token, approval))) {
    const given = (await ledger.getRecord(key!))?.approval;
    if (given && given.tokenHash === approval.tokenHash) {
      return answer(409, { message: `deployment ${running.deploymentId} of ${where} is approved already, by ${given.by} (${given.callerArn}) at ${given.at}: nothing was changed by this approval`, ...base });
    }
    return closed(where, running);
  }
  const result = await succeedTask(token, { approved: true, operator: req.operator, callerArn, approvalId: approval.id, ...(req.comment ? { comment: req.comment } : {}) });
  if (result === 'closed') {
    await ledger.removeApproval(key!, approval.id);
    return closed(where, running);
  }
  await audit(`${req.operator} approved deployment ${running.deploymentId}${req.comment ? `: ${req.comment}` : ''}`, { action: 'approve', comment: req.comment, ...(matched ? { approver: matched } : {}) });
  logger.info('approved', { ...base, matched });
  return answer(200, {
    message: `Approved deployment ${running.deploymentId} of ${where} as ${req.operator} (${callerArn}): it continues.`,
    action: 'approve',
    ...base,
    matched: matched ?? null,
    comment: req.comment ?? null,
  });
}

function closed(where: string, lock: LockItem): LambdaFunctionURLResult {
  return answer(409, { message: `the approval wait of deployment ${lock.deploymentId} of ${where} ended before the answer (timed out, aborted, an alarm, or another answer came first): nothing was changed by this one`, deploymentId: lock.deploymentId });
}

/** The running deployment's record key, from its lock. */
function recordKey(req: ApprovalRequest, lock: LockItem): Pick<DeploymentRecord, 'service' | 'environment' | 'startedAt' | 'deploymentId'> | undefined {
  return lock.startedAt ? { service: req.service, environment: req.environment, startedAt: lock.startedAt, deploymentId: lock.deploymentId } : undefined;
}
