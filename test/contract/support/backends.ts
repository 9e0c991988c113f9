/**
 * The two backends the contract tests run the same assertions against:
 *  - `moto`: `moto_server` on loopback, every SDK client pointed at it through the client factory's
 *    `endpoints` (lib/aws/clients.ts) — an implementation of AWS's APIs that is not ours;
 *  - `twin`: the local twin's own services, wired as `Twin.start` wires them: the in-process
 *    {@link Simulator} (ECS, ELBv2, RDS, CloudWatch, Logs, Secrets Manager, SNS) as the factory's
 *    `transport`, dynalite for DynamoDB and the twin's Step Functions service over its HTTP API
 *    (lib/local/stepfunctions/api.ts) as `endpoints`. Its clock is frozen (`timeScale: 0`): simulated
 *    time passes only when a test calls {@link Backend.advance}.
 * Both are reached only through `configureClients`, so cutover's adapters run unchanged.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configureClients, resetClients, type AwsService } from '../../../lib/aws/clients';
import { SimClock, Simulator } from '../../../lib/local/simulator';
import { startDynalite, type LocalDynamo } from '../../../lib/local/dynamodb';
import { LocalStepFunctions, handleStepFunctionsRequest } from '../../../lib/local/stepfunctions';
import { ec2Query, startMoto, xmlValues, type MotoServer } from './moto';

export type BackendKind = 'moto' | 'twin';

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
const CREDENTIALS = { accessKeyId: 'contract', secretAccessKey: 'contract' };
const SERVICES: AwsService[] = ['ecs', 'elbv2', 'rds', 'cloudwatch', 'logs', 'dynamodb', 'sfn', 'secretsmanager', 'sns'];

/** Where the fixture's ECS tasks and load balancer live. */
export interface Network {
  readonly vpcId: string;
  /** Two subnets in two availability zones (an ALB needs two). */
  readonly subnets: readonly [string, string];
  readonly securityGroup: string;
}

export interface Backend {
  readonly kind: BackendKind;
  /**
   * Let `seconds` of AWS time pass: the twin's simulated clock moves on (snapshots finish, deployments
   * roll over); moto finishes everything at once, so nothing to do there.
   */
  advance(seconds: number): Promise<void>;
  /** The VPC, subnets and security group to use (moto: its default VPC, with DNS hostnames on; twin: ids, it has no EC2). */
  network(): Promise<Network>;
  /**
   * An `available` Aurora PostgreSQL cluster with an `available` writer instance. moto: CreateDBCluster
   * + CreateDBInstance; the twin's simulator implements no CreateDBCluster (cutover never creates
   * one), so its scenario hook `seedCluster`.
   */
  createAuroraCluster(clusterId: string, writerId: string): Promise<void>;
  /**
   * Events in a log stream. moto: CreateLogGroup / CreateLogStream / PutLogEvents; the twin's Logs
   * implements only GetLogEvents (the living twin's awslogs files feed it), so its hook `seedLogEvents`.
   */
  putLogEvents(group: string, stream: string, messages: readonly string[]): Promise<void>;
  /**
   * The task token of the `.waitForTaskToken` state an execution waits in, or undefined when the
   * backend does not run state machines (moto: executions stay RUNNING and never reach a state).
   */
  taskToken(executionArn: string): Promise<string | undefined>;
  /** The twin's simulator (scenario hooks), undefined on moto. */
  readonly sim?: Simulator;
  /** Stop everything the backend started and reset the client factory. */
  stop(): Promise<void>;
}

/** Start moto and point every client at it. */
export async function startMotoBackend(): Promise<Backend> {
  const moto: MotoServer = await startMoto();
  configureClients({
    region: REGION,
    credentials: CREDENTIALS,
    endpoints: Object.fromEntries(SERVICES.map((s) => [s, moto.endpoint])) as Record<AwsService, string>,
  });
  const { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand, ResourceAlreadyExistsException } = await import(
    '@aws-sdk/client-cloudwatch-logs'
  );
  const { RDSClient, CreateDBClusterCommand, CreateDBInstanceCommand } = await import('@aws-sdk/client-rds');
  const config = { region: REGION, credentials: CREDENTIALS, endpoint: moto.endpoint };
  return {
    kind: 'moto',
    advance: async () => {},
    async network() {
      const vpcs = await ec2Query(moto.endpoint, 'DescribeVpcs', { 'Filter.1.Name': 'isDefault', 'Filter.1.Value.1': 'true' });
      const vpcId = xmlValues(vpcs, 'vpcId')[0];
      if (!vpcId) throw new Error(`moto has no default VPC: ${vpcs.slice(0, 300)}`);
      // moto's RunTask with awsvpc networking needs the VPC's DNS hostnames on (AWS default VPCs have them).
      await ec2Query(moto.endpoint, 'ModifyVpcAttribute', { VpcId: vpcId, 'EnableDnsHostnames.Value': 'true' });
      const subnets = xmlValues(await ec2Query(moto.endpoint, 'DescribeSubnets', { 'Filter.1.Name': 'vpc-id', 'Filter.1.Value.1': vpcId }), 'subnetId');
      if (subnets.length < 2) throw new Error(`moto's default VPC ${vpcId} has ${subnets.length} subnets; the fixture needs two`);
      const sg = xmlValues(
        await ec2Query(moto.endpoint, 'CreateSecurityGroup', { GroupName: 'contract-app', GroupDescription: 'contract tests', VpcId: vpcId }),
        'groupId',
      )[0]!;
      return { vpcId, subnets: [subnets[0]!, subnets[1]!], securityGroup: sg };
    },
    async createAuroraCluster(clusterId, writerId) {
      const rds = new RDSClient(config);
      await rds.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: clusterId,
          Engine: 'aurora-postgresql',
          EngineVersion: '16.4',
          MasterUsername: 'postgres',
          MasterUserPassword: 'contract-password',
        }),
      );
      await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: writerId, DBClusterIdentifier: clusterId, Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large' }));
      rds.destroy();
    },
    async putLogEvents(group, stream, messages) {
      const logs = new CloudWatchLogsClient(config);
      try {
        await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
      } catch (err) {
        if (!(err instanceof ResourceAlreadyExistsException)) throw err;
      }
      await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
      const t = Date.now();
      await logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: messages.map((message, i) => ({ timestamp: t + i, message })) }));
      logs.destroy();
    },
    taskToken: async () => undefined,
    async stop() {
      resetClients();
      await moto.stop();
    },
  };
}

/** Start the twin's services (simulator, dynalite, Step Functions API) and point every client at them. */
export async function startTwinBackend(): Promise<Backend> {
  const clock = new SimClock({ timeScale: 0 });
  const sim = new Simulator({ clock, region: REGION, accountId: ACCOUNT });
  const dynamo: LocalDynamo = await startDynalite();
  const tokens = new Map<string, string>();
  const sfn = new LocalStepFunctions({
    region: REGION,
    accountId: ACCOUNT,
    clock,
    // Every Task of the contract state machine is a `.waitForTaskToken` wait: keep its token, never answer.
    resolveTask: () => async (_input, ctx) => {
      if (ctx.taskToken) tokens.set(ctx.executionArn, ctx.taskToken);
      return new Promise(() => {});
    },
  });
  const http: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      void handleStepFunctionsRequest(sfn, target, Buffer.concat(chunks).toString('utf8')).then((out) => {
        res.writeHead(out.statusCode, out.headers);
        res.end(out.body);
      });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const sfnEndpoint = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  configureClients({ region: REGION, credentials: CREDENTIALS, endpoints: { dynamodb: dynamo.endpoint, sfn: sfnEndpoint }, transport: sim });
  return {
    kind: 'twin',
    sim,
    async advance(seconds) {
      clock.advance(seconds);
    },
    network: async () => ({ vpcId: 'vpc-0contract', subnets: ['subnet-0contracta', 'subnet-0contractb'], securityGroup: 'sg-0contract' }),
    async createAuroraCluster(clusterId, writerId) {
      sim.rds.seedCluster(clusterId, { writerInstanceId: writerId });
    },
    async putLogEvents(group, stream, messages) {
      sim.logs.seedLogEvents(group, stream, messages);
    },
    async taskToken(executionArn) {
      // The execution reaches its wait state asynchronously; a few event-loop turns at most.
      for (let i = 0; i < 200 && !tokens.has(executionArn); i++) await new Promise((r) => setImmediate(r));
      return tokens.get(executionArn);
    },
    async stop() {
      resetClients();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await dynamo.close();
      await sfn.stop();
      await sim.close();
    },
  };
}

/** Start a backend of `kind`. */
export function startBackend(kind: BackendKind): Promise<Backend> {
  return kind === 'moto' ? startMotoBackend() : startTwinBackend();
}
