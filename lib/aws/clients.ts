/**
 * The one place AWS SDK v3 clients are created.
 *
 * Handlers and adapters call the getters (`ecsClient()`, ...); they never read endpoints. On AWS the
 * clients use the default credential chain and region, and HTTP timeouts ({@link DEFAULT_HTTP_TIMEOUTS})
 * that turn a hung call into the SDK's retryable `TimeoutError`. The local twin calls {@link configureClients}
 * once at start to point clients elsewhere:
 *  - `endpoints`: a real endpoint per service (dynalite for DynamoDB, the twin's own Step Functions API);
 *  - `transport`: an in-process handler that receives the command name and input and returns the
 *    output (the simulator), added as an `initialize`-step middleware so the rest of the SDK stack
 *    (retries, signing, HTTP) is skipped.
 * Tests mock clients with aws-sdk-client-mock, which replaces `send` on every instance.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { RDSClient } from '@aws-sdk/client-rds';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import { ECRClient } from '@aws-sdk/client-ecr';
import type { AwsCredentialIdentity } from '@smithy/types';

export type AwsService = 'ecs' | 'elbv2' | 'rds' | 'cloudwatch' | 'logs' | 'dynamodb' | 'sfn' | 'secretsmanager' | 'sns' | 'ecr' | 'sts';

/**
 * An in-process implementation of some AWS services.
 * `send` receives the operation name without the `Command` suffix (e.g. `UpdateService`) and the
 * command input, and resolves to the output or rejects with the SDK's typed exception.
 */
export interface InProcessTransport {
  handles(service: AwsService): boolean;
  send(service: AwsService, operation: string, input: unknown): Promise<Record<string, unknown>>;
}

/** HTTP timeouts of every client, in real milliseconds. */
export interface HttpTimeouts {
  /** Until the connection is established. */
  readonly connectionMs: number;
  /** For the whole request and response. */
  readonly requestMs: number;
}

/**
 * A connection must be up within 3 s and a request answered within 5 s; otherwise the SDK fails the
 * attempt with its `TimeoutError`, which its standard retry (3 attempts) and then the state machines
 * (`Cutover.Transient`) retry. The SDK's own default is no timeout at all: a hung call would wait for the
 * Lambda function's timeout (30 s), which Step Functions reports as a function error no Retry matches,
 * so one stuck connection would fail or roll back a deployment. 3 attempts of 5 s fit in that timeout.
 */
export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { connectionMs: 3000, requestMs: 5000 };

export interface ClientRouting {
  /** Endpoint URL per service, e.g. `{ dynamodb: 'http://127.0.0.1:4567' }`. */
  readonly endpoints?: Partial<Record<AwsService, string>>;
  /** In-process transport for services it `handles`. */
  readonly transport?: InProcessTransport;
  /** Region for all clients. @default the SDK's own resolution (AWS_REGION) */
  readonly region?: string;
  /** Static credentials (local endpoints accept any). @default the SDK's default chain */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** HTTP timeouts (not used by the in-process `transport`). @default {@link DEFAULT_HTTP_TIMEOUTS} */
  readonly httpTimeouts?: Partial<HttpTimeouts>;
}

let routing: ClientRouting = {};
/** Clients by service, or by `<service>@<region>` for a client pinned to a region. */
const cache = new Map<string, unknown>();

/** Point all clients created from now on at `next`; drops cached clients. Used by the local twin. */
export function configureClients(next: ClientRouting): void {
  routing = next;
  cache.clear();
}

/** Back to AWS defaults (tests call this after a twin stops). */
export function resetClients(): void {
  configureClients({});
}

type AnyClient = {
  middlewareStack: { add: (mw: any, options: { step: 'initialize'; name: string; priority?: 'high' }) => void };
};

/** @param region a region for this client instead of the routing's (or the SDK's) default */
function create<T extends AnyClient>(service: AwsService, Ctor: new (config: object) => T, region?: string): T {
  const config: Record<string, unknown> = {};
  if (region ?? routing.region) config.region = region ?? routing.region;
  if (routing.credentials) config.credentials = routing.credentials;
  const endpoint = routing.endpoints?.[service];
  if (endpoint) config.endpoint = endpoint;
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...routing.httpTimeouts };
  // NodeHttpHandlerOptions: without throwOnRequestTimeout a late answer only logs a warning.
  config.requestHandler = { connectionTimeout: timeouts.connectionMs, requestTimeout: timeouts.requestMs, throwOnRequestTimeout: true };
  const client = new Ctor(config);
  const transport = routing.transport;
  if (transport?.handles(service)) {
    client.middlewareStack.add(
      (_next: unknown, context: { commandName?: string }) => async (args: { input: unknown }) => {
        const operation = (context.commandName ?? '').replace(/Command$/, '');
        const output = await transport.send(service, operation, args.input);
        return { output: { $metadata: { httpStatusCode: 200 }, ...output }, response: {} };
      },
      { step: 'initialize', name: 'cutoverInProcessTransport', priority: 'high' },
    );
  }
  return client;
}

function cached<T>(key: string, make: () => T): T {
  let client = cache.get(key) as T | undefined;
  if (!client) {
    client = make();
    cache.set(key, client);
  }
  return client;
}

export const ecsClient = (): ECSClient => cached('ecs', () => create('ecs', ECSClient));
export const elbv2Client = (): ElasticLoadBalancingV2Client =>
  cached('elbv2', () => create('elbv2', ElasticLoadBalancingV2Client));
export const rdsClient = (): RDSClient => cached('rds', () => create('rds', RDSClient));
export const cloudWatchClient = (): CloudWatchClient => cached('cloudwatch', () => create('cloudwatch', CloudWatchClient));
/**
 * CloudWatch Logs client. Log events live in the region the writer chose (e.g. a container's
 * `awslogs-region`), which may differ from the default one.
 * @param region the region to read from @default the routing's region (or the SDK's: AWS_REGION)
 */
export const logsClient = (region?: string): CloudWatchLogsClient =>
  region === undefined
    ? cached('logs', () => create('logs', CloudWatchLogsClient))
    : cached(`logs@${region}`, () => create('logs', CloudWatchLogsClient, region));
export const sfnClient = (): SFNClient => cached('sfn', () => create('sfn', SFNClient));
export const secretsManagerClient = (): SecretsManagerClient =>
  cached('secretsmanager', () => create('secretsmanager', SecretsManagerClient));
/** Amazon ECR client (the image gate: DescribeImages, lib/aws/ecr.ts). */
export const ecrClient = (): ECRClient => cached('ecr', () => create('ecr', ECRClient));
/** AWS STS client (who the operator CLI acts as: GetCallerIdentity, lib/aws/sts.ts). */
export const stsClient = (): STSClient => cached('sts', () => create('sts', STSClient));
/**
 * The credentials and region a request signed by hand (SigV4, e.g. a Lambda function URL call,
 * lib/aws/function-url.ts) uses: resolved exactly as this factory's clients resolve theirs — the static
 * credentials and region {@link configureClients} was given (the twin), else the SDK's default
 * credential chain and region (AWS_REGION, the profile). Read off the STS client's resolved config.
 * @param region a region to use instead of the configured one (the configured one is then not resolved)
 * @throws (rejects with) the SDK's error when no credentials or no region can be found
 */
export async function signingContext(region?: string): Promise<{ region: string; credentials: AwsCredentialIdentity }> {
  const config = stsClient().config;
  return { region: region ?? (await config.region()), credentials: await config.credentials() };
}
/** Amazon SNS client (deployment notifications, lib/aws/notify.ts). */
export const snsClient = (): SNSClient => cached('sns', () => create('sns', SNSClient));
/** DynamoDB document client (marshalls plain JS objects; `removeUndefinedValues` on). */
export const dynamoDocClient = (): DynamoDBDocumentClient =>
  cached('dynamodb', () =>
    DynamoDBDocumentClient.from(create('dynamodb', DynamoDBClient), { marshallOptions: { removeUndefinedValues: true } }),
  );
/** Plain DynamoDB client (table administration in the twin). */
export const dynamoClient = (): DynamoDBClient => create('dynamodb', DynamoDBClient);
