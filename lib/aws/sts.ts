/**
 * Who is calling: the AWS identity behind the operator CLI's credentials (STS GetCallerIdentity, which
 * needs no permission: AWS STS API reference, GetCallerIdentity). Recorded on every audit event the CLI
 * writes, beside the operator's declared name (`--operator`), which anyone can set.
 */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { stsClient } from './clients';

/**
 * The caller's ARN, e.g. `arn:aws:sts::123456789012:assumed-role/cutover-approver/alice`.
 * @throws the SDK's error when the credentials are missing or invalid (the CLI's other calls would fail too)
 */
export async function callerArn(): Promise<string> {
  const out = await stsClient().send(new GetCallerIdentityCommand({}));
  if (!out.Arn) throw new Error('STS GetCallerIdentity answered without an Arn');
  return out.Arn;
}
