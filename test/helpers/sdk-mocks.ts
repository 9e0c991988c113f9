/**
 * The one helper that builds every AWS SDK mock used by unit tests (aws-sdk-client-mock), and makes
 * SDK errors the way the SDK itself makes them.
 *
 * `mockClient(Class)` stubs `Class.prototype.send`, so every instance — including the cached clients
 * of lib/aws/clients.ts — answers from the mock and nothing reaches the network. Importing this module
 * installs every mock; call {@link resetSdkMocks} in `beforeEach` for clean behaviour and history.
 * A command with no configured behaviour resolves to `undefined`.
 */
import { mockClient } from 'aws-sdk-client-mock';
import { ECSClient, ECSServiceException } from '@aws-sdk/client-ecs';
import {
  ElasticLoadBalancingV2Client,
  ElasticLoadBalancingV2ServiceException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { RDSClient, RDSServiceException } from '@aws-sdk/client-rds';
import { CloudWatchClient, CloudWatchServiceException } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, CloudWatchLogsServiceException } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SFNClient, SFNServiceException } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { ECRClient, ECRServiceException } from '@aws-sdk/client-ecr';
import { logger } from '../../lib/observability';

export const ecsMock = mockClient(ECSClient);
export const elbv2Mock = mockClient(ElasticLoadBalancingV2Client);
export const rdsMock = mockClient(RDSClient);
export const cloudWatchMock = mockClient(CloudWatchClient);
/** CloudWatch Logs: every client `logsClient(region?)` returns, whatever its region. */
export const logsMock = mockClient(CloudWatchLogsClient);
/** The document client (lib-dynamodb): its commands carry plain JS objects, as the ledger sends them. */
export const dynamoMock = mockClient(DynamoDBDocumentClient);

export const sfnMock = mockClient(SFNClient);

const all = [ecsMock, elbv2Mock, rdsMock, cloudWatchMock, logsMock, dynamoMock, sfnMock];

/** SNS (lib/aws/notify.ts): Publish of deployment notifications. */
export const snsMock = mockClient(SNSClient);
all.push(snsMock);

/** ECR (lib/aws/ecr.ts): DescribeImages of the image gate. */
export const ecrMock = mockClient(ECRClient);
all.push(ecrMock);

/** Clear behaviour and call history of every mock; silence the handlers' logger. */
export function resetSdkMocks(): void {
  for (const m of all) m.reset();
  logger.setLogLevel('SILENT');
}

/** Any SDK exception class: the service's base exception or a modelled one (`DBSnapshotAlreadyExistsFault`, ...). */
type ExceptionClass<E extends Error> = new (opts: { message: string; $metadata: Record<string, unknown> }) => E;

/**
 * A modelled SDK exception, built with the SDK's own class so `instanceof` checks in adapters hold,
 * e.g. `sdkError(ConditionalCheckFailedException, 'The conditional request failed')`.
 */
export function sdkError<E extends Error>(Ctor: ExceptionClass<E>, message = 'injected by test'): E {
  return new Ctor({ message, $metadata: { httpStatusCode: 400, requestId: 'test-request' } });
}

const serviceExceptions = {
  ecs: ECSServiceException,
  elbv2: ElasticLoadBalancingV2ServiceException,
  rds: RDSServiceException,
  cloudwatch: CloudWatchServiceException,
  logs: CloudWatchLogsServiceException,
  dynamodb: DynamoDBServiceException,
  sfn: SFNServiceException,
  ecr: ECRServiceException,
} as const;

/**
 * A throttling error as the SDK deserialises an unmodelled `ThrottlingException` error code: an
 * instance of the service's base exception whose `name` is the error code. `@smithy/core/retry`'s
 * `isThrottlingError` recognises it by name.
 */
export function throttlingError(service: keyof typeof serviceExceptions, message = 'Rate exceeded'): Error {
  const Base = serviceExceptions[service];
  return new Base({
    name: 'ThrottlingException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400, requestId: 'test-request' },
    message,
  });
}
