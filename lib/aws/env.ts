/**
 * The environment variables a Lambda function needs (set by its CDK construct): read once, and a
 * missing one fails with a message naming it and what it is for.
 */

/**
 * The value of the environment variable `name`.
 * @param fn the function's short name, for the message (`ledger`, `approval`, ...)
 * @param what what the variable holds, for the message (`the DynamoDB table name`)
 * @throws Error `<name> is not set: the <fn> function needs <what>.` when it is unset or empty
 */
export function requiredEnv(name: string, fn: string, what: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the ${fn} function needs ${what}.`);
  return value;
}
