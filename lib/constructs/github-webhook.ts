/**
 * The GitHub webhook: an HTTP API route `POST /webhooks/github` → the `github-webhook` function, which
 * verifies the delivery's HMAC signature with a secret from Secrets Manager and starts `deploy` executions.
 */
import { CfnOutput, Duration, Stack, Token } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Config } from '../config/schema';
import { CutoverFunction } from './cutover-function';
import { acknowledge, acknowledgeWildcardResources } from './nag';

/** Path of the webhook route (GitHub's "Payload URL" is the API URL + this path). */
export const WEBHOOK_PATH = '/webhooks/github';

/** Access log line of the API stage: JSON, one object per request. */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationError: '$context.integrationErrorMessage',
});

export interface GitHubWebhookProps {
  /** The validated cutover config, given to the function as `CUTOVER_CONFIG`. */
  readonly config: Config;
  /** The `deploy` state machine the webhook starts (`STATE_MACHINE_ARN`). */
  readonly stateMachine: sfn.IStateMachine;
  /**
   * The ledger table (`TABLE_NAME`): the webhook reads the environment's lock (GetItem) to answer
   * whether a push started deploying or was queued behind a running deployment.
   * @default the answer does not say whether the push was queued
   */
  readonly table?: dynamodb.ITable;
  /**
   * Name of the Secrets Manager secret holding the webhook secret (a generated value; copy it into
   * GitHub's webhook settings). Secret names are unique per account and region.
   * @default `<stack name>/github-webhook-secret`
   */
  readonly secretName?: string;
  /**
   * Name of the HTTP API (shown in the API Gateway console; API Gateway does not require it to be unique,
   * but two stacks' webhooks should not look alike).
   * @default `<stack name>-github-webhook`
   */
  readonly apiName?: string;
  /**
   * Steady-state request rate limit of the API stage (requests per second).
   * @default 10
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst limit of the API stage (requests).
   * @default 20
   */
  readonly throttlingBurstLimit?: number;
  /**
   * How long the function's and the API's access log groups keep their logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** HTTP API + secret + `github-webhook` function. Outputs the webhook URL and the secret's name. */
export class GitHubWebhook extends Construct {
  /** The `github-webhook` function. */
  readonly function: CutoverFunction;
  /** The webhook secret. */
  readonly secret: secretsmanager.Secret;
  /** The HTTP API. */
  readonly httpApi: apigwv2.HttpApi;
  /** The API's `$default` stage. */
  readonly stage: apigwv2.HttpStage;
  /** The full webhook URL to configure in GitHub. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: GitHubWebhookProps) {
    super(scope, id);
    const secretName = props.secretName ?? `${Stack.of(this).stackName}/github-webhook-secret`;
    if (!Token.isUnresolved(secretName) && !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(secretName)) {
      throw new Error(`GitHubWebhookProps.secretName: "${secretName}" is not a valid Secrets Manager name; use 1-512 letters, digits or /_+=.@- characters.`);
    }
    const rateLimit = props.throttlingRateLimit ?? 10;
    if (!Token.isUnresolved(rateLimit) && !(rateLimit > 0)) {
      throw new Error(`GitHubWebhookProps.throttlingRateLimit: ${rateLimit} must be greater than 0 (requests per second).`);
    }
    const burstLimit = props.throttlingBurstLimit ?? 20;
    if (!Token.isUnresolved(burstLimit) && !(Number.isInteger(burstLimit) && burstLimit >= 1)) {
      throw new Error(`GitHubWebhookProps.throttlingBurstLimit: ${burstLimit} must be a whole number of at least 1 (requests).`);
    }

    this.secret = new secretsmanager.Secret(this, 'Secret', {
      secretName,
      description: 'cutover: GitHub webhook secret (copy the value into the repository webhook settings)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    acknowledge(
      this.secret,
      'AwsSolutions-SMG4',
      'The webhook secret is shared with GitHub, which cannot fetch it: rotating it needs the same value typed into the GitHub webhook settings, so rotation is a manual, coordinated step.',
    );

    this.function = new CutoverFunction(this, 'Handler', {
      name: 'github-webhook',
      config: props.config,
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      environment: {
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        WEBHOOK_SECRET_ARN: this.secret.secretArn,
        ...(props.table ? { TABLE_NAME: props.table.tableName } : {}),
      },
    });
    if (props.table) props.table.grant(this.function.role, 'dynamodb:GetItem');
    // GetSecretValue only (grantRead would add DescribeSecret, which nothing calls).
    this.function.addToRolePolicy(new iam.PolicyStatement({ sid: 'WebhookSecret', actions: ['secretsmanager:GetSecretValue'], resources: [this.secret.secretArn] }));
    props.stateMachine.grantStartExecution(this.function.role);
    const describe = props.stateMachine.grantExecution(this.function.role, 'states:DescribeExecution');
    acknowledgeWildcardResources(
      this.function.role,
      describe.principalStatements,
      'states:DescribeExecution on executions of the deploy state machine only (execution:<state machine>:*): execution names are made per delivery, so the webhook can report an already started execution.',
    );

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    this.httpApi = new apigwv2.HttpApi(this, 'Api', {
      apiName: props.apiName ?? `${Stack.of(this).stackName}-github-webhook`,
      description: 'cutover: GitHub webhook',
      createDefaultStage: false,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit, burstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });
    const [route] = this.httpApi.addRoutes({
      path: WEBHOOK_PATH,
      methods: [apigwv2.HttpMethod.POST],
      integration: new HttpLambdaIntegration('Integration', this.function.lambda),
    });
    acknowledge(
      route!,
      'AwsSolutions-APIG4',
      'GitHub cannot sign webhook deliveries with IAM or a JWT; every delivery carries an HMAC-SHA256 signature (X-Hub-Signature-256) that the function verifies with the webhook secret before acting.',
    );

    this.url = `${this.stage.url.replace(/\/$/, '')}${WEBHOOK_PATH}`;
    new CfnOutput(this, 'WebhookUrl', { description: 'GitHub webhook Payload URL (content type application/json)', value: this.url });
    new CfnOutput(this, 'WebhookSecretName', { description: 'Secrets Manager secret holding the GitHub webhook secret', value: this.secret.secretName });
  }
}
