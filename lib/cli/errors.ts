/**
 * Errors of the operator CLI: {@link CliError} is a message for the operator (one line, exit code 1);
 * {@link explainError} turns anything else (SDK errors, network errors) into such a line.
 */

/** An error whose message is meant for the operator as it is: printed as one line, exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** Process exit code. @default 1 */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Network error codes of Node's fetch / the SDK's HTTP handler. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * One line that says what went wrong and, where we know it, how to fix it. Never a stack trace.
 */
export function explainError(err: unknown): string {
  if (err instanceof CliError) return err.message;
  if (!(err instanceof Error)) return String(err);
  const name = err.name;
  const message = err.message.replace(/\s+/g, ' ').trim();
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return `no AWS credentials found (${message}): configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or use --endpoint <url> for a local twin.`;
  }
  if (/Region is missing/i.test(message)) {
    return 'no AWS region: set AWS_REGION (or a profile with a region), or pass --region <name>.';
  }
  if (name === 'ExpiredTokenException' || name === 'ExpiredToken') {
    return `your AWS credentials have expired (${message}): refresh them (e.g. aws sso login) and run the command again.`;
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'UnrecognizedClientException') {
    return `AWS denied the request (${name}: ${message}): check that your credentials may use cutover's state machines and table.`;
  }
  if (name === 'ResourceNotFoundException' && /table/i.test(message)) {
    return `the DynamoDB table was not found (${message}): check --table / the stack's TableName output and the region.`;
  }
  const code = errorCode(err);
  if (code && UNREACHABLE.has(code)) return `cannot reach ${message.includes('http') ? message : `the endpoint (${code}: ${message})`}.`;
  return `${name && name !== 'Error' ? `${name}: ` : ''}${message}`;
}
