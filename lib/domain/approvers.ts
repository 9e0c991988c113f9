/**
 * Who may approve an environment's deployments: its `approvers`, matched against the caller's AWS
 * identity as AWS reports it (the SigV4-verified `userArn` a Lambda function URL passes on, or
 * STS GetCallerIdentity's `Arn`). Pure: no I/O.
 *
 * An approver is one of (IAM User Guide, "IAM identifiers" — ARNs; "AWS STS" assumed-role ARNs):
 *  - a **role name**, e.g. `release-managers`: any session of that role in the environment's own
 *    account (`arn:aws:sts::<account>:assumed-role/release-managers/<session>`). A `*` matches any
 *    characters, for IAM Identity Center roles such as `AWSReservedSSO_ReleaseManager_*`;
 *  - a **role ARN**, `arn:aws:iam::<account>:role[/path]/<name>`: any session of it (an assumed-role
 *    ARN carries the role's name without its path); `*` allowed in the name;
 *  - a **user ARN**, `arn:aws:iam::<account>:user[/path]/<name>`: that IAM user;
 *  - an **assumed-role session ARN**, `arn:aws:sts::<account>:assumed-role/<role>/<session>`: that
 *    session only (e.g. one IAM Identity Center user: the session name is their user name).
 *
 * Role names compare case-insensitively (IAM role names are unique regardless of case); accounts,
 * partitions, user names and session names compare exactly.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors';

/** A parsed approver entry, with the account it applies to (role names get the environment's). */
export type Approver =
  | { readonly kind: 'role'; readonly partition: string; readonly account: string; readonly name: string }
  | { readonly kind: 'user'; readonly partition: string; readonly account: string; readonly name: string }
  | { readonly kind: 'session'; readonly partition: string; readonly account: string; readonly role: string; readonly session: string };

const PARTITION = '(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc)';
const ACCOUNT = '(\\d{12})';
/** IAM role and user name characters (IAM API reference: `[\w+=,.@-]+`), plus `*` in role names. */
const ROLE_NAME = /^[\w+=,.@*-]{1,64}$/;
const ROLE_ARN = new RegExp(`^arn:${PARTITION}:iam::${ACCOUNT}:role/(?:[\\w+=,.@/-]*/)?([\\w+=,.@*-]{1,64})$`);
const USER_ARN = new RegExp(`^arn:${PARTITION}:iam::${ACCOUNT}:user/((?:[\\w+=,.@/-]*/)?[\\w+=,.@-]{1,64})$`);
const SESSION_ARN = new RegExp(`^arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/([\\w+=,.@-]{1,64})/([\\w+=,.@-]{2,64})$`);

/** Why an entry is not an approver, for config errors. */
export const APPROVER_FORMS =
  'use a role name (release-managers, AWSReservedSSO_Deployers_*), a role ARN (arn:aws:iam::<account>:role/<name>), ' +
  'a user ARN (arn:aws:iam::<account>:user/<name>) or an assumed-role session ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>)';

/**
 * The partition and account of an ARN (`arn:<partition>:<service>:<region>:<account>:…`; IAM and
 * STS ARNs have no region). Missing parts are `aws` and `''`.
 */
export function arnPartitionAndAccount(arn: string): { partition: string; account: string } {
  const [, partition = 'aws', , , account = ''] = arn.split(':');
  return { partition, account };
}

/** A role name pattern must name something: not only `*` (that would be every role of the account). */
const namesSomething = (pattern: string) => pattern.replaceAll('*', '') !== '';

/**
 * Parse one `approvers` entry.
 * @param entry a role name (may contain `*`), a role ARN, a user ARN or an assumed-role session ARN
 * @param account the environment's 12-digit account id (role names apply there)
 * @param partition the environment's partition (`aws`, `aws-cn`, ...)
 * @returns the approver, or `undefined` when the entry has none of the forms in {@link APPROVER_FORMS}
 *   (or is a role pattern of `*` alone)
 */
export function parseApprover(entry: string, account: string, partition = 'aws'): Approver | undefined {
  const text = entry.trim();
  let m: RegExpExecArray | null;
  if ((m = ROLE_ARN.exec(text))) return namesSomething(m[3]!) ? { kind: 'role', partition: m[1]!, account: m[2]!, name: m[3]! } : undefined;
  if ((m = USER_ARN.exec(text))) return { kind: 'user', partition: m[1]!, account: m[2]!, name: m[3]! };
  if ((m = SESSION_ARN.exec(text))) return { kind: 'session', partition: m[1]!, account: m[2]!, role: m[3]!, session: m[4]! };
  if (!text.startsWith('arn:') && ROLE_NAME.test(text) && namesSomething(text)) return { kind: 'role', partition, account, name: text };
  return undefined;
}

/**
 * The canonical ARN form of an approver, as a plan carries it: a role name becomes its role ARN in the
 * environment's account, so what a deployment enforces does not depend on where it is read.
 * @returns `arn:<partition>:iam::<account>:role/<name>` (a role's path dropped: an assumed-role ARN has
 *   none), `arn:<partition>:iam::<account>:user[/path]/<name>` or the session ARN as given
 */
export function approverArn(a: Approver): string {
  switch (a.kind) {
    case 'role':
      return `arn:${a.partition}:iam::${a.account}:role/${a.name}`;
    case 'user':
      return `arn:${a.partition}:iam::${a.account}:user/${a.name}`;
    case 'session':
      return `arn:${a.partition}:sts::${a.account}:assumed-role/${a.role}/${a.session}`;
  }
}

/** The caller as AWS names it, parsed; `undefined` for a shape no approver can match (root, federated user, ...). */
type Caller =
  | { readonly kind: 'user'; readonly partition: string; readonly account: string; readonly name: string }
  | { readonly kind: 'session'; readonly partition: string; readonly account: string; readonly role: string; readonly session: string };

function parseCaller(arn: string): Caller | undefined {
  let m: RegExpExecArray | null;
  if ((m = USER_ARN.exec(arn))) return { kind: 'user', partition: m[1]!, account: m[2]!, name: m[3]! };
  if ((m = SESSION_ARN.exec(arn))) return { kind: 'session', partition: m[1]!, account: m[2]!, role: m[3]!, session: m[4]! };
  return undefined;
}

/**
 * A role-name pattern (`*` = any characters) as a case-insensitive whole-name match. Linear in the
 * lengths (the greedy wildcard match with one backtrack point), so no pattern can make it slow.
 */
function roleNameMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase();
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < n.length) {
    if (i < p.length && p[i] !== '*' && p[i] === n[j]) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

function matches(a: Approver, c: Caller): boolean {
  if (a.partition !== c.partition || a.account !== c.account) return false;
  if (a.kind === 'user') return c.kind === 'user' && c.name === a.name;
  if (c.kind !== 'session') return false;
  if (a.kind === 'session') return c.role.toLowerCase() === a.role.toLowerCase() && c.session === a.session;
  return roleNameMatches(a.name, c.role);
}

/** Whether `callerArn` may approve, and the words for the answer. */
export type ApproverDecision =
  | { readonly allowed: true; /** The approver entry that matched (absent when the environment names none). */ readonly matched?: string; readonly message: string }
  | { readonly allowed: false; readonly message: string };

/**
 * Decide whether the caller may approve an environment's deployment. An approver entry that does not
 * parse (the config schema refuses those) matches nobody.
 * @param callerArn the caller's ARN (function URL `requestContext.authorizer.iam.userArn`)
 * @param approvers the plan's approvers, canonical ARNs ({@link approverArn}); empty or absent = anyone
 *   IAM lets call the approval function
 * @param environment `<service>/<environment>`, for the message
 */
export function decideApprover(callerArn: string, approvers: readonly string[] | undefined, environment: string): ApproverDecision {
  if (!approvers || approvers.length === 0) return { allowed: true, message: `${environment} names no approvers: anyone allowed to call the approval function may approve` };
  const caller = parseCaller(callerArn);
  for (const entry of approvers) {
    const a = parseApprover(entry, '000000000000');
    if (a && caller && matches(a, caller)) return { allowed: true, matched: entry, message: `${callerArn} is an approver of ${environment} (${entry})` };
  }
  return {
    allowed: false,
    message:
      `${callerArn} is not an approver of ${environment}: its approvers are ${approvers.join(', ')}. ` +
      'Ask one of them to approve, or act with credentials of one of those identities.',
  };
}

/**
 * An environment's `approvers` in canonical ARN form ({@link approverArn}), role names placed in the
 * account (and partition) of one of the environment's resources.
 * @param resourceArn any ARN of the environment (e.g. a target group's): gives the account and partition
 * @throws Cutover.InvalidInput when an entry is not an approver (the config schema refuses those before)
 */
export function canonicalApprovers(approvers: readonly string[], resourceArn: string): string[] {
  const { partition, account } = arnPartitionAndAccount(resourceArn);
  return approvers.map((entry) => {
    const a = parseApprover(entry, account, partition);
    if (!a) throw new InvalidInputError(`approvers: "${entry}" is not an approver: ${APPROVER_FORMS}`);
    return approverArn(a);
  });
}

/**
 * What binds a recorded approval to the wait it answered: the SHA-256 (hex) of the wait's task token.
 * `VerifyApproval` accepts a recorded approval only for the wait that just ended (the record's pending
 * token), so an approval recorded for an earlier wait never counts for a later one.
 */
export function approvalTokenHash(taskToken: string): string {
  return createHash('sha256').update(taskToken).digest('hex');
}

/**
 * Whether a record's recorded approval answered the approval wait that is (or just was) pending on it:
 * the record still names an `approval` wait and the approval carries its token's hash
 * ({@link approvalTokenHash}). An approval left from an earlier wait, or none, is not.
 */
export function approvalIsForPendingWait(record: {
  readonly pendingKind?: string;
  readonly pendingTaskToken?: string;
  readonly approval?: { readonly tokenHash: string };
} | undefined): boolean {
  const given = record?.approval;
  return !!given && record.pendingKind === 'approval' && !!record.pendingTaskToken && approvalTokenHash(record.pendingTaskToken) === given.tokenHash;
}

/** What the approval function does with a request, given what the ledger says (see {@link decideApprovalRequest}). */
export type ApprovalRequestDecision =
  /** Answer the caller with `status` and `message`; `refused` = audit it as a refused attempt. */
  | { readonly kind: 'answer'; readonly status: 403 | 404 | 409; readonly message: string; readonly refused?: boolean }
  /** Go on: record (approve) and answer the wait whose token this is. */
  | { readonly kind: 'proceed'; readonly token: string; readonly matched?: string };

/**
 * Decide an approve / reject request of the approval function (lambdas/approval) from the environment's
 * lock and the running deployment's record: nothing running → 404; not waiting for an approval → 409;
 * a caller who is not an approver → 403 (`refused`); else proceed with the wait's token.
 * @param req `where` = `<service>/<environment>`; `callerArn` = the SIGV4-verified caller
 * @param lock the environment's lock (`undefined`: nothing runs)
 * @param record the record of the lock's deployment (`undefined`: not found)
 */
export function decideApprovalRequest(
  req: { readonly where: string; readonly callerArn: string },
  lock: { readonly deploymentId: string } | undefined,
  record: { readonly pendingKind?: string; readonly pendingTaskToken?: string; readonly approvers?: readonly string[] } | undefined,
): ApprovalRequestDecision {
  if (!lock) return { kind: 'answer', status: 404, message: `no deployment of ${req.where} is running, so nothing waits for an approval` };
  if (!record) return { kind: 'answer', status: 409, message: `deployment ${lock.deploymentId} of ${req.where} has no record to approve (its lock predates approvals through the approval function)` };
  const token = record.pendingKind === 'approval' ? record.pendingTaskToken : undefined;
  if (!token) {
    return { kind: 'answer', status: 409, message: `deployment ${lock.deploymentId} of ${req.where} is not waiting for an approval${record.pendingKind ? ` (it waits for ${record.pendingKind})` : ''}` };
  }
  const verdict = decideApprover(req.callerArn, record.approvers, req.where);
  if (!verdict.allowed) return { kind: 'answer', status: 403, message: verdict.message, refused: true };
  return { kind: 'proceed', token, ...(verdict.matched ? { matched: verdict.matched } : {}) };
}
