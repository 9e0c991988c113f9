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
 * Parse one `approvers` entry.
 * @param account the environment's 12-digit account id (role names apply there)
 * @param partition the environment's partition (`aws`, `aws-cn`, ...)
 * @returns the approver, or `undefined` when the entry has none of the forms in {@link APPROVER_FORMS}
 */
export function parseApprover(entry: string, account: string, partition = 'aws'): Approver | undefined {
  const text = entry.trim();
  let m: RegExpExecArray | null;
  if ((m = ROLE_ARN.exec(text))) return { kind: 'role', partition: m[1]!, account: m[2]!, name: m[3]! };
  if ((m = USER_ARN.exec(text))) return { kind: 'user', partition: m[1]!, account: m[2]!, name: m[3]! };
  if ((m = SESSION_ARN.exec(text))) return { kind: 'session', partition: m[1]!, account: m[2]!, role: m[3]!, session: m[4]! };
  if (!text.startsWith('arn:') && ROLE_NAME.test(text) && text.replaceAll('*', '') !== '') return { kind: 'role', partition, account, name: text };
  return undefined;
}

/**
 * The canonical ARN form of an approver, as a plan carries it: a role name becomes its role ARN in the
 * environment's account, so what a deployment enforces does not depend on where it is read.
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

/** A role-name pattern (`*` = any characters) as a case-insensitive whole-name match. */
function roleNameMatches(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(name);
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
 * Decide whether the caller may approve an environment's deployment.
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
 * @throws Error when an entry is not an approver (the config schema refuses those before)
 */
export function canonicalApprovers(approvers: readonly string[], resourceArn: string): string[] {
  const [, partition = 'aws', , , account = ''] = resourceArn.split(':');
  return approvers.map((entry) => {
    const a = parseApprover(entry, account, partition);
    if (!a) throw new Error(`approvers: "${entry}" is not an approver: ${APPROVER_FORMS}`);
    return approverArn(a);
  });
}
