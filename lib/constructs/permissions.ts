/**
 * IAM statements of the cutover functions, scoped to the resources named in the config.
 *
 * Each builder returns the statements with, for any wildcard resource, the reason it cannot be scoped
 * further (checked against the Service Authorization Reference). Region, account and partition come from
 * the stack (`Stack.of(scope).formatArn`), so one config deploys to the stack's environment.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import type { Config, EnvironmentConfig, TrafficRoute } from '../config/schema';
import { parseEcrImage } from '../domain/image-events';
import { restoreNames } from '../domain/restore';

/** A statement and, when it has a wildcard resource, why. */
export interface ScopedStatement {
  readonly statement: iam.PolicyStatement;
  readonly wildcardReason?: string;
}

/** Prefix of every DB (cluster) snapshot identifier cutover creates (`snapshotIdentifier` in lib/domain/plan.ts). */
export const SNAPSHOT_PREFIX = 'cutover-';

/**
 * IAM resource-name patterns of exactly the identifiers the restore swap gives a database
 * (`restoreNames` in lib/domain/restore.ts: `<base>-restored-<6 hex>`, `<base>-pre-<6 hex>`, where
 * `<base>` is the identifier, shortened when it is long). `?` matches one character in an IAM ARN, so
 * other databases that share the prefix (`<id>-replica`, `<id>-pre-prod`) are out of reach.
 * @returns `{ restored, aside }` patterns (without the ARN prefix)
 */
export function restoreNamePatterns(identifier: string): { restored: string; aside: string } {
  const { restored, aside } = restoreNames(identifier, 'iam');
  const hashed = (name: string) => name.replace(/[0-9a-f]{6}$/, '??????');
  return { restored: hashed(restored), aside: hashed(aside) };
}

/** RDS identifiers are at most 63 characters. */
const MAX_RDS_IDENTIFIER = 63;

/**
 * IAM pattern of the writer instance `lib/aws/rds.ts` creates in a restored Aurora cluster:
 * `<restored cluster>-1`, cut to RDS's 63 characters (so for a cluster identifier of 47 or more
 * characters the writer has the restored cluster's own identifier).
 * @param restoredPattern the restored cluster's pattern ({@link restoreNamePatterns}`.restored`)
 */
export function writerInstancePattern(restoredPattern: string): string {
  return `${restoredPattern}-1`.slice(0, MAX_RDS_IDENTIFIER);
}

function environments(config: Config): EnvironmentConfig[] {
  return Object.values(config.services).flatMap((s) => Object.values(s.environments));
}

function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

function arn(scope: IConstruct, service: string, resource: string, resourceName: string | undefined, arnFormat: ArnFormat): string {
  return Stack.of(scope).formatArn({ service, resource, resourceName, arnFormat });
}

/**
 * `ecs-release`: describe/update the configured slot services, register task definition revisions,
 * run/stop the migration task in the configured clusters, pass task and execution roles to ECS tasks,
 * and read the migration task's log stream (`logs:GetLogEvents` on awslogs streams
 * `<prefix>/<configured container name>/<task id>`, in any log group of the stack's account and region).
 * @param taskRoleArns the task and execution roles the function may pass to ECS tasks (only to `ecs-tasks.amazonaws.com`)
 * @throws Error when `taskRoleArns` is empty: cutover never passes an unnamed role
 */
export function ecsReleaseStatements(scope: IConstruct, config: Config, taskRoleArns: readonly string[]): ScopedStatement[] {
  if (taskRoleArns.length === 0) throw new Error('ecsReleaseStatements: taskRoleArns is empty; name the task and execution roles the services use (CutoverStackProps.taskRoleArns).');
  const envs = environments(config);
  const clusters = unique(envs.map((e) => e.cluster)).sort();
  const clusterArns = clusters.map((c) => arn(scope, 'ecs', 'cluster', c, ArnFormat.SLASH_RESOURCE_NAME));
  const serviceArns = unique(envs.flatMap((e) => [e.slots.blue.service, e.slots.green.service].map((s) => `${e.cluster}/${s}`)))
    .sort()
    .map((name) => arn(scope, 'ecs', 'service', name, ArnFormat.SLASH_RESOURCE_NAME));
  const taskArns = clusters.map((c) => arn(scope, 'ecs', 'task', `${c}/*`, ArnFormat.SLASH_RESOURCE_NAME));
  const taskDefinitionArns = [arn(scope, 'ecs', 'task-definition', '*', ArnFormat.SLASH_RESOURCE_NAME)];
  return [
    {
      statement: new iam.PolicyStatement({
        sid: 'SlotServices',
        actions: ['ecs:DescribeServices', 'ecs:UpdateService'],
        resources: serviceArns,
      }),
    },
    {
      statement: new iam.PolicyStatement({
        sid: 'MigrationTaskRun',
        actions: ['ecs:RunTask'],
        resources: taskDefinitionArns,
        conditions: { ArnEquals: { 'ecs:cluster': clusterArns } },
      }),
      wildcardReason:
        'ecs:RunTask is scoped by its required resource type, task-definition; the families are read from the configured services at run time (not in the config), so any family in this account and region is allowed, and only in the configured clusters (condition ecs:cluster).',
    },
    {
      statement: new iam.PolicyStatement({
        sid: 'MigrationTasks',
        actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
        resources: taskArns,
      }),
      wildcardReason:
        'Task ids are random and only known after RunTask; the resource is every task of a configured cluster (task/<cluster>/*).',
    },
    {
      statement: new iam.PolicyStatement({
        sid: 'TagOnCreate',
        actions: ['ecs:TagResource'],
        resources: [...taskArns, ...taskDefinitionArns],
        conditions: { StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } },
      }),
      wildcardReason:
        'Tags given to RunTask / RegisterTaskDefinition need ecs:TagResource on the new task or revision, whose id is unknown before it exists; only allowed while creating (condition ecs:CreateAction).',
    },
    {
      statement: new iam.PolicyStatement({
        sid: 'TaskDefinitions',
        actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition'],
        resources: ['*'],
      }),
      wildcardReason:
        'ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition support no resource-level permissions (Service Authorization Reference: no resource types).',
    },
    {
      statement: new iam.PolicyStatement({
        sid: 'MigrationTaskLogs',
        actions: ['logs:GetLogEvents'],
        resources: unique(envs.map((e) => e.containerName))
          .sort()
          .map((container) => arn(scope, 'logs', 'log-group', `*:log-stream:*/${container}/*`, ArnFormat.COLON_RESOURCE_NAME)),
      }),
      wildcardReason:
        'logs:GetLogEvents authorizes on the log-stream resource (Service Authorization Reference). The log group and stream prefix are the awslogs options of the ' +
        'migration task\'s task definition, read at run time (not in the config), and the task id is only known after RunTask; awslogs names streams ' +
        '<prefix>/<container name>/<task id>, so the resource is the streams of the configured container names in any log group of this account and region (read-only).',
    },
    {
      statement: new iam.PolicyStatement({
        sid: 'PassTaskRoles',
        actions: ['iam:PassRole'],
        resources: [...taskRoleArns],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    },
  ];
}

/**
 * `database`: snapshot, describe, and restore the configured RDS instances and Aurora clusters; rename
 * the old one aside (`<id>-…`, kept) and restore under the original identifier.
 * @returns no statements when no environment has a database
 */
export function databaseStatements(scope: IConstruct, config: Config): ScopedStatement[] {
  const dbs = environments(config).flatMap((e) => (e.database ? [e.database] : []));
  const instances = unique(dbs.flatMap((d) => (d.instanceIdentifier ? [d.instanceIdentifier] : []))).sort();
  const clusters = unique(dbs.flatMap((d) => (d.clusterIdentifier ? [d.clusterIdentifier] : []))).sort();
  const rds = (resource: string, name: string) => arn(scope, 'rds', resource, name, ArnFormat.COLON_RESOURCE_NAME);
  const groupsReason =
    'Restore and modify calls name the option group, parameter group(s), subnet group and security group of the original database, which are not in the config; ' +
    'these group resources only authorize referencing an existing group in a restore/modify whose database (db/cluster) resource is scoped to the configured identifiers.';
  const statements: ScopedStatement[] = [];
  if (instances.length > 0) {
    statements.push(
      {
        statement: new iam.PolicyStatement({
          sid: 'DbInstances',
          actions: [
            'rds:CreateDBSnapshot',
            'rds:DescribeDBSnapshots',
            'rds:RestoreDBInstanceFromDBSnapshot',
            'rds:ModifyDBInstance',
            'rds:DescribeDBInstances',
            'rds:AddTagsToResource',
          ],
          resources: [
            ...instances.flatMap((id) => [rds('db', id), rds('db', restoreNamePatterns(id).restored), rds('db', restoreNamePatterns(id).aside)]),
            rds('snapshot', `${SNAPSHOT_PREFIX}*`),
          ],
        }),
        wildcardReason:
          `Snapshots are named ${SNAPSHOT_PREFIX}<...> per deployment; the old instance is renamed aside to <id>-pre-<6 hex> (kept, never deleted) and the restore is <id>-restored-<6 hex>; ` +
          'the resources are the configured instance identifiers, exactly those two names (? wildcards), and cutover snapshots only.',
      },
      {
        statement: new iam.PolicyStatement({
          sid: 'DbInstanceGroups',
          actions: ['rds:RestoreDBInstanceFromDBSnapshot', 'rds:ModifyDBInstance'],
          resources: [rds('og', '*'), rds('pg', '*'), rds('subgrp', '*'), rds('secgrp', '*')],
        }),
        wildcardReason: groupsReason,
      },
    );
  }
  if (clusters.length > 0) {
    statements.push(
      {
        statement: new iam.PolicyStatement({
          sid: 'DbClusters',
          actions: [
            'rds:CreateDBClusterSnapshot',
            'rds:DescribeDBClusterSnapshots',
            'rds:RestoreDBClusterFromSnapshot',
            'rds:ModifyDBCluster',
            'rds:DescribeDBClusters',
            'rds:CreateDBInstance',
            'rds:DescribeDBInstances',
            'rds:AddTagsToResource',
          ],
          resources: [
            ...clusters.flatMap((id) => {
              const names = restoreNamePatterns(id);
              return [rds('cluster', id), rds('cluster', names.restored), rds('cluster', names.aside), rds('db', writerInstancePattern(names.restored))];
            }),
            rds('cluster-snapshot', `${SNAPSHOT_PREFIX}*`),
          ],
        }),
        wildcardReason:
          `Cluster snapshots are named ${SNAPSHOT_PREFIX}<...> per deployment; the old cluster is renamed aside to <id>-pre-<6 hex>, the restore is <id>-restored-<6 hex> with the writer instance <id>-restored-<6 hex>-1; ` +
          'the resources are the configured cluster identifiers, exactly those names (? wildcards), and cutover cluster snapshots only.',
      },
      {
        statement: new iam.PolicyStatement({
          sid: 'DbClusterMembers',
          actions: ['rds:DescribeDBInstances'],
          resources: [rds('db', '*')],
        }),
        wildcardReason:
          'The restored cluster gets a writer instance shaped like the writer of the configured cluster, whose instance identifier is not in the config; describing instances is read-only.',
      },
      {
        statement: new iam.PolicyStatement({
          sid: 'DbClusterGroups',
          actions: ['rds:RestoreDBClusterFromSnapshot', 'rds:ModifyDBCluster', 'rds:CreateDBInstance'],
          resources: [rds('og', '*'), rds('pg', '*'), rds('cluster-pg', '*'), rds('subgrp', '*'), rds('secgrp', '*')],
        }),
        wildcardReason: groupsReason,
      },
    );
  }
  if (instances.length > 0 || clusters.length > 0) {
    const region = Stack.of(scope).region;
    const viaRds = `rds.${region}.amazonaws.com`;
    statements.push(
      {
        // A restore of an encrypted snapshot with a customer managed key makes RDS create a grant on the
        // key on the caller's behalf (AWS KMS developer guide, "How Amazon RDS uses AWS KMS").
        statement: new iam.PolicyStatement({
          sid: 'RestoreEncryptedGrant',
          actions: ['kms:CreateGrant'],
          resources: ['*'],
          conditions: { StringEquals: { 'kms:ViaService': viaRds }, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
        }),
        wildcardReason:
          'The KMS key of an encrypted database is not in the config; kms:CreateGrant is allowed only through RDS (kms:ViaService) and only for grants to AWS resources (kms:GrantIsForAWSResource), which a restore of a CMK-encrypted snapshot needs.',
      },
      {
        statement: new iam.PolicyStatement({ sid: 'RestoreEncryptedDescribe', actions: ['kms:DescribeKey'], resources: ['*'], conditions: { StringEquals: { 'kms:ViaService': viaRds } } }),
        wildcardReason: 'The KMS key of an encrypted database is not in the config; kms:DescribeKey is read-only and allowed only through RDS (kms:ViaService).',
      },
      {
        // The restored database keeps the original's enhanced monitoring (MonitoringRoleArn).
        statement: new iam.PolicyStatement({
          sid: 'MonitoringRole',
          actions: ['iam:PassRole'],
          resources: [Stack.of(scope).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' })],
          conditions: { StringEquals: { 'iam:PassedToService': 'monitoring.rds.amazonaws.com' } },
        }),
        wildcardReason:
          'The enhanced-monitoring role of the original database is read from it at restore time (not in the config); roles of this account may be passed only to monitoring.rds.amazonaws.com (condition iam:PassedToService).',
      },
    );
  }
  return statements;
}

function routeArns(routes: ReadonlyArray<TrafficRoute | undefined>): { listeners: string[]; rules: string[] } {
  const listeners = new Set<string>();
  const rules = new Set<string>();
  for (const route of routes) {
    if (!route) continue;
    if ('listenerArn' in route) listeners.add(route.listenerArn);
    else rules.add(route.ruleArn);
  }
  return { listeners: [...listeners].sort(), rules: [...rules].sort() };
}

/** `traffic`: change the forward weights of the configured production and test listeners / rules, and (with `verify`) find a listener's URL. */
export function trafficStatements(_scope: IConstruct, config: Config): ScopedStatement[] {
  const { listeners, rules } = routeArns(environments(config).flatMap((e) => [e.production, e.test]));
  const statements: ScopedStatement[] = [];
  if (listeners.length > 0) {
    statements.push({ statement: new iam.PolicyStatement({ sid: 'Listeners', actions: ['elasticloadbalancing:ModifyListener'], resources: listeners }) });
  }
  if (rules.length > 0) {
    statements.push({ statement: new iam.PolicyStatement({ sid: 'ListenerRules', actions: ['elasticloadbalancing:ModifyRule'], resources: rules }) });
  }
  statements.push({
    statement: new iam.PolicyStatement({
      sid: 'Describe',
      actions: [
        'elasticloadbalancing:DescribeListeners',
        'elasticloadbalancing:DescribeRules',
        'elasticloadbalancing:DescribeTargetHealth',
        // The verify HTTP checks find a listener's URL from its load balancer's DNS name.
        ...(environments(config).some((e) => e.verify) ? ['elasticloadbalancing:DescribeLoadBalancers'] : []),
      ],
      resources: ['*'],
    }),
    wildcardReason: 'elasticloadbalancing:Describe* actions support no resource-level permissions (Service Authorization Reference: no resource types); they are read-only.',
  });
  return statements;
}

/**
 * `alarm-check` (and the ledger, which checks the alarms as a bake starts): read the state of the
 * configured alarms. `lib/aws/cloudwatch.ts` asks DescribeAlarms for metric *and* composite alarms, and
 * CloudWatch returns composite alarms only to a caller whose `cloudwatch:DescribeAlarms` is scoped to
 * `*` (CloudWatch API reference, DescribeAlarms): with alarm ARNs a composite alarm would read as
 * missing and every deployment would roll back.
 * @returns no statements when no alarms are configured
 */
export function alarmCheckStatements(_scope: IConstruct, config: Config): ScopedStatement[] {
  const names = unique(environments(config).flatMap((e) => e.alarms));
  if (names.length === 0) return [];
  return [
    {
      statement: new iam.PolicyStatement({ sid: 'Alarms', actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }),
      wildcardReason:
        'CloudWatch returns composite alarms to DescribeAlarms only when cloudwatch:DescribeAlarms is scoped to * (API reference, DescribeAlarms); cutover reads the configured metric and composite alarms by name. Read-only.',
    },
  ];
}

/**
 * ARNs of the Amazon ECR repositories of the configured environments' `imageRepository` (those that
 * name an ECR private registry: `parseEcrImage`, lib/domain/image-events.ts), each in its own
 * registry's account and region: `arn:<partition>:ecr:<region>:<registry id>:repository/<name>`.
 * Sorted, without duplicates; the partition is the stack's.
 * @returns an empty list when no environment's image is in ECR
 */
export function ecrRepositoryArns(scope: IConstruct, config: Config): string[] {
  const repositories = new Map<string, { registryId: string; region: string; repositoryName: string }>();
  for (const env of environments(config)) {
    const ref = parseEcrImage(`${env.imageRepository}:latest`);
    if (ref) repositories.set(`${ref.region}:${ref.registryId}:${ref.repositoryName}`, ref);
  }
  return [...repositories.keys()].sort().map((key) => {
    const ref = repositories.get(key)!;
    return Stack.of(scope).formatArn({
      service: 'ecr',
      region: ref.region,
      account: ref.registryId,
      resource: 'repository',
      resourceName: ref.repositoryName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  });
}

/**
 * `ecs-release` (`findImage`) and `ledger` (`awaitImage`, which looks once more after storing its task
 * token): look a release's image up by tag (`lib/aws/ecr.ts` findImage: ECR DescribeImages) in exactly
 * the configured repositories ({@link ecrRepositoryArns}).
 * @returns no statements when no environment's imageRepository is an ECR repository
 */
export function ecrImageStatements(scope: IConstruct, config: Config): ScopedStatement[] {
  const repositories = ecrRepositoryArns(scope, config);
  if (repositories.length === 0) return [];
  return [{ statement: new iam.PolicyStatement({ sid: 'ReleaseImages', actions: ['ecr:DescribeImages'], resources: repositories }) }, ...ecrScanStatements(scope, config)];
}

/**
 * The scan gate (`ecs-release` checkScan, `ledger` awaitScan, `image-events` on a scan event): read the
 * pinned image's findings (`lib/aws/ecr.ts` readScan: ECR DescribeImageScanFindings) in exactly the
 * repositories of the environments that have `scan`.
 * @returns no statements when no environment has a scan gate
 */
export function ecrScanStatements(scope: IConstruct, config: Config): ScopedStatement[] {
  const scanned: Config = {
    ...config,
    services: Object.fromEntries(
      Object.entries(config.services).map(([name, s]) => [name, { ...s, environments: Object.fromEntries(Object.entries(s.environments).filter(([, e]) => e.scan)) }]),
    ),
  };
  const repositories = ecrRepositoryArns(scope, scanned);
  if (repositories.length === 0) return [];
  return [{ statement: new iam.PolicyStatement({ sid: 'ReleaseImageScans', actions: ['ecr:DescribeImageScanFindings'], resources: repositories }) }];
}

/**
 * The DynamoDB actions the ledger adapter (`lib/aws/ledger.ts`) sends for the `ledger` function: no Scan,
 * no Batch*, no streams (test/constructs/cutover-stack.test.ts derives them from the handler's calls).
 */
export const LEDGER_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query'] as const;

/**
 * The DynamoDB actions of the `alarm` function: it reads the lock and the environment state
 * (`Ledger.getLock` / `getEnvironment`: GetItem), appends to the audit timeline (`Ledger.audit`: PutItem) and
 * records when a failure was detected on the deployment whose wait it fails (`Ledger.setRecordFields`: UpdateItem).
 */
export const ALARM_LEDGER_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

/**
 * The DynamoDB actions of the `image-events` function: it only reads the locks of the environments that
 * use the pushed repository (`Ledger.getLock`: GetItem).
 */
export const IMAGE_EVENTS_LEDGER_ACTIONS = ['dynamodb:GetItem'] as const;

/**
 * Read and write the ledger's items (no index is used).
 * @param tableArn the ledger table's ARN
 * @param actions the DynamoDB actions of the function
 * @default actions {@link LEDGER_TABLE_ACTIONS}
 */
export function ledgerTableStatements(tableArn: string, actions: readonly string[] = LEDGER_TABLE_ACTIONS): ScopedStatement[] {
  return [{ statement: new iam.PolicyStatement({ sid: 'Ledger', actions: [...actions], resources: [tableArn] }) }];
}

/** Why SendTaskSuccess / SendTaskFailure need `*`. */
export const TASK_TOKEN_WILDCARD_REASON =
  'states:SendTaskFailure / SendTaskSuccess support no resource-level permissions (Service Authorization Reference: no resource types); a task token only answers the callback wait it was issued for.';

/** `states:SendTaskFailure` (and optionally SendTaskSuccess) for answering cutover's callback waits. */
export function taskTokenStatements(actions: ReadonlyArray<'states:SendTaskFailure' | 'states:SendTaskSuccess'>): ScopedStatement[] {
  return [
    {
      statement: new iam.PolicyStatement({ sid: 'TaskTokens', actions: [...actions], resources: ['*'] }),
      wildcardReason: TASK_TOKEN_WILDCARD_REASON,
    },
  ];
}
