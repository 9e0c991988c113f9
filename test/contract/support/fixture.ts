/**
 * The resources every contract test starts from, created the same way on both backends through SDK
 * calls (the clients of lib/aws/clients.ts, pointed at the backend): an ECS cluster with a task
 * definition and two services (blue live, green idle), an ALB whose production listener forwards to
 * two target groups by weight (plus a listener rule and a test listener), a PostgreSQL DB instance and
 * an Aurora PostgreSQL cluster, two metric alarms (one firing), the ledger's DynamoDB table, an SNS
 * topic, a state machine that waits for a task token, a secret and a container's log stream. Where the
 * twin implements no create API (EC2, CreateDBCluster, log ingestion) the backend's hook stands in.
 */
import { CreateClusterCommand, CreateServiceCommand, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { CreateListenerCommand, CreateLoadBalancerCommand, CreateRuleCommand, CreateTargetGroupCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import { CreateStateMachineCommand } from '@aws-sdk/client-sfn';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { cloudWatchClient, dynamoClient, ecsClient, elbv2Client, rdsClient, secretsManagerClient, sfnClient, snsClient } from '../../../lib/aws/clients';
import { createLedgerTable } from '../../../lib/local/dynamodb';
import { ACCOUNT, REGION, type Backend, type Network } from './backends';

export interface Fixture {
  readonly network: Network;
  readonly cluster: string;
  readonly family: string;
  /** Revision 1 of {@link family}: container {@link container} with an awslogs configuration. */
  readonly taskDefinitionArn: string;
  readonly container: string;
  readonly logGroup: string;
  readonly logPrefix: string;
  /** Live (desired 1, target group blue) and idle (desired 0, target group green) services. */
  readonly services: { readonly blue: string; readonly green: string };
  readonly targetGroups: { readonly blue: string; readonly green: string };
  readonly loadBalancerArn: string;
  /** Port 80: forward blue 100 / green 0. */
  readonly listenerArn: string;
  /** Port 8080: forward green (the test listener). */
  readonly testListenerArn: string;
  /** A rule of {@link listenerArn} (path `/api/*`): forward blue 100 / green 0. */
  readonly ruleArn: string;
  readonly instanceId: string;
  readonly auroraClusterId: string;
  readonly auroraWriterId: string;
  readonly alarms: { readonly firing: string; readonly ok: string };
  readonly tableName: string;
  readonly topicArn: string;
  /** A STANDARD state machine whose only state waits for a task token. */
  readonly stateMachineArn: string;
  readonly secretId: string;
  readonly secretValue: string;
  /** A task id whose container stream `<logPrefix>/<container>/<taskId>` in {@link logGroup} holds {@link logLines}. */
  readonly loggedTaskId: string;
  readonly logLines: readonly string[];
}

/** A state machine that waits for a task token (the shape of cutover's bake and approval waits). */
export const CALLBACK_DEFINITION = JSON.stringify({
  Comment: 'contract tests: wait for a task token',
  StartAt: 'WaitForAnswer',
  States: {
    WaitForAnswer: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: { QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/contract`, MessageBody: { 'token.$': '$$.Task.Token' } },
      End: true,
    },
  },
});

/** Create the fixture's resources on `backend` (whose clients the factory already points at). */
export async function seedFixture(backend: Backend): Promise<Fixture> {
  const network = await backend.network();
  const cluster = 'contract';
  const family = 'contract-app';
  const container = 'app';
  const logGroup = '/ecs/contract-app';
  const logPrefix = 'app';
  const ecs = ecsClient();
  await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const td = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/contract-execution`,
      containerDefinitions: [
        {
          name: container,
          image: 'public.ecr.aws/docker/library/nginx:1.27',
          essential: true,
          // moto's RunTask needs a container-level memory (AWS accepts the task-level one alone).
          memory: 512,
          portMappings: [{ containerPort: 80, protocol: 'tcp' }],
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logGroup, 'awslogs-region': REGION, 'awslogs-stream-prefix': logPrefix } },
        },
      ],
    }),
  );
  const taskDefinitionArn = td.taskDefinition!.taskDefinitionArn!;

  const elb = elbv2Client();
  const lb = await elb.send(new CreateLoadBalancerCommand({ Name: 'contract-alb', Subnets: [...network.subnets], SecurityGroups: [network.securityGroup], Type: 'application' }));
  const loadBalancerArn = lb.LoadBalancers![0]!.LoadBalancerArn!;
  const tg = async (name: string) =>
    (
      await elb.send(
        new CreateTargetGroupCommand({ Name: name, Protocol: 'HTTP', Port: 80, VpcId: network.vpcId, TargetType: 'ip', HealthCheckPath: '/' }),
      )
    ).TargetGroups![0]!.TargetGroupArn!;
  const targetGroups = { blue: await tg('contract-blue'), green: await tg('contract-green') };
  const weighted = [
    {
      Type: 'forward' as const,
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: targetGroups.blue, Weight: 100 },
          { TargetGroupArn: targetGroups.green, Weight: 0 },
        ],
      },
    },
  ];
  const listener = await elb.send(new CreateListenerCommand({ LoadBalancerArn: loadBalancerArn, Protocol: 'HTTP', Port: 80, DefaultActions: weighted }));
  const listenerArn = listener.Listeners![0]!.ListenerArn!;
  const testListener = await elb.send(
    new CreateListenerCommand({ LoadBalancerArn: loadBalancerArn, Protocol: 'HTTP', Port: 8080, DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroups.green }] }),
  );
  const rule = await elb.send(
    new CreateRuleCommand({ ListenerArn: listenerArn, Priority: 10, Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } }], Actions: weighted }),
  );

  const services = { blue: 'contract-blue', green: 'contract-green' };
  for (const [slot, desiredCount] of [['blue', 1], ['green', 0]] as const) {
    await ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: services[slot],
        taskDefinition: taskDefinitionArn,
        desiredCount,
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: [...network.subnets], securityGroups: [network.securityGroup], assignPublicIp: 'DISABLED' } },
        loadBalancers: [{ targetGroupArn: targetGroups[slot], containerName: container, containerPort: 80 }],
      }),
    );
  }

  const instanceId = 'contract-db';
  await rdsClient().send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: instanceId,
      Engine: 'postgres',
      EngineVersion: '16.4',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: 'postgres',
      MasterUserPassword: 'contract-password',
    }),
  );
  const auroraClusterId = 'contract-aurora';
  const auroraWriterId = 'contract-aurora-1';
  await backend.createAuroraCluster(auroraClusterId, auroraWriterId);

  const cw = cloudWatchClient();
  const alarms = { firing: 'contract-5xx', ok: 'contract-latency' };
  for (const [name, metric] of [
    [alarms.firing, 'HTTPCode_Target_5XX_Count'],
    [alarms.ok, 'TargetResponseTime'],
  ] as const) {
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        Namespace: 'AWS/ApplicationELB',
        MetricName: metric,
        Dimensions: [{ Name: 'LoadBalancer', Value: 'app/contract-alb/0123456789abcdef' }],
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      }),
    );
  }
  await cw.send(new SetAlarmStateCommand({ AlarmName: alarms.ok, StateValue: 'OK', StateReason: 'contract: quiet' }));
  await cw.send(new SetAlarmStateCommand({ AlarmName: alarms.firing, StateValue: 'ALARM', StateReason: 'contract: 5xx above threshold' }));

  const tableName = 'contract-ledger';
  await createLedgerTable(dynamoClient(), tableName);

  const topic = await snsClient().send(new CreateTopicCommand({ Name: 'contract-notifications' }));
  const machine = await sfnClient().send(
    new CreateStateMachineCommand({ name: 'contract-callback', definition: CALLBACK_DEFINITION, roleArn: `arn:aws:iam::${ACCOUNT}:role/contract-sfn`, type: 'STANDARD' }),
  );
  const secretId = 'contract/github-webhook';
  const secretValue = 'contract-webhook-secret';
  await secretsManagerClient().send(new CreateSecretCommand({ Name: secretId, SecretString: secretValue }));

  const loggedTaskId = '0123456789abcdef0123456789abcdef';
  const logLines = ['migration 001 applied', 'migration 002 applied', 'done'];
  await backend.putLogEvents(logGroup, `${logPrefix}/${container}/${loggedTaskId}`, logLines);

  // The twin's instances, clusters and services take their AWS durations to become available/stable.
  await backend.advance(3600);
  return {
    network,
    cluster,
    family,
    taskDefinitionArn,
    container,
    logGroup,
    logPrefix,
    services,
    targetGroups,
    loadBalancerArn,
    listenerArn,
    testListenerArn: testListener.Listeners![0]!.ListenerArn!,
    ruleArn: rule.Rules![0]!.RuleArn!,
    instanceId,
    auroraClusterId,
    auroraWriterId,
    alarms,
    tableName,
    topicArn: topic.TopicArn!,
    stateMachineArn: machine.stateMachineArn!,
    secretId,
    secretValue,
    loggedTaskId,
    logLines,
  };
}
