/**
 * Approvals of an environment's deployments: the `approval` function (lambdas/approval/handler.ts)
 * behind a Lambda function URL with `AuthType: AWS_IAM`, so that every request is SigV4-signed and
 * Lambda hands the function the verified caller. The function checks the caller against the
 * environment's `approvers` (as the deployment record carries them from its plan: lib/domain/approvers.ts), answers
 * the deployment's approval task token (SendTaskSuccess to approve, SendTaskFailure to reject), writes
 * the approval onto the deployment record and appends an audit event, naming the verified caller, to
 * the ledger table. An approver (lib/constructs/operator-policies.ts) can approve or reject only here.
 *
 * HTTP contract (`cutover approve` / `cutover reject` call it; the URL is the stack output `ApprovalUrl`):
 *  - request: `POST` with a JSON body
 *    `{ "service": string, "environment": string, "decision": "approve" | "reject", "operator": string,
 *       "comment"?: string, "reason"?: string }`;
 *  - the caller is `requestContext.authorizer.iam.userArn` of the function URL's request payload (AWS
 *    Lambda Developer Guide, "Invoking Lambda function URLs": request payload format), the ARN Lambda
 *    verified from the SigV4 signature — never a field of the body (`operator` is only the display name
 *    recorded with the approval); `reason` is required to reject;
 *  - responses, each with a JSON body `{ "message": string, ... }`:
 *    200 answered (approved or rejected); 400 a malformed request (the message names the field);
 *    403 the caller is not one of the environment's approvers (or the request carries no IAM identity);
 *    404 nothing is running in that environment; 409 the running deployment is not waiting for an
 *    approval (or the wait ended meanwhile); 405 not a POST.
 *
 * Who may call it: with `AWS_IAM`, Lambda authorizes the caller's identity-based policies (same account;
 * this construct adds no resource-based policy, so no other account can). Since October 2025 invoking a
 * function URL needs both `lambda:InvokeFunctionUrl` and `lambda:InvokeFunction` (the latter with
 * `lambda:InvokedViaFunctionUrl`, so it allows no direct Invoke with a forged event): the approver and
 * operator managed policies grant exactly these (`OperatorPoliciesProps.approvalFunction`).
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CutoverFunction } from './cutover-function';
import { ledgerTableStatements, taskTokenStatements } from './permissions';

/**
 * The DynamoDB actions of the `approval` function: it reads the lock and the deployment record
 * (GetItem), writes the approval onto the record (UpdateItem) and appends the audit event (PutItem).
 */
export const APPROVAL_LEDGER_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem'] as const;

export interface ApprovalFunctionProps {
  /**
   * The ledger table (`TABLE_NAME`): the function reads the environment's lock and the deployment record,
   * records the approval on it and appends the audit event (the actions of {@link APPROVAL_LEDGER_ACTIONS}, on this table only).
   */
  readonly table: dynamodb.ITable;
  /**
   * How long the function's log group keeps its logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How many customer managed policies the function's role may have (IAM quota, 10 by default, up to 20).
   * @default MAX_MANAGED_POLICIES_PER_ROLE (10)
   */
  readonly maxManagedPolicies?: number;
}

/** The `approval` function behind a function URL (`AuthType: AWS_IAM`). */
export class ApprovalFunction extends Construct {
  /** The `approval` function. */
  readonly function: CutoverFunction;
  /** The function URL (`AuthType: AWS_IAM`) that `cutover approve` / `reject` call. */
  readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: ApprovalFunctionProps) {
    super(scope, id);
    this.function = new CutoverFunction(this, 'Function', {
      name: 'approval',
      logRetention: props.logRetention,
      maxManagedPolicies: props.maxManagedPolicies,
      environment: { TABLE_NAME: props.table.tableName },
    });
    for (const s of ledgerTableStatements(props.table.tableArn, APPROVAL_LEDGER_ACTIONS)) this.function.addToRolePolicy(s.statement);
    for (const s of taskTokenStatements(['states:SendTaskSuccess', 'states:SendTaskFailure'])) this.function.addToRolePolicy(s.statement, s.wildcardReason);

    // AWS_IAM: Lambda rejects an unsigned or unauthorized request before the function runs, and passes
    // the verified caller in requestContext.authorizer.iam. No CORS: the CLI calls it, not a browser.
    this.url = this.function.lambda.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  }
}
