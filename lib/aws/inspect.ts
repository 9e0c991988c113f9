/**
 * Read-only inspection of the AWS resources a cutover config names, for `cutover doctor`
 * (lib/cli/doctor.ts): only Describe* / List* / Get* calls and IAM's policy simulator, never a write.
 *
 * ECS, ELBv2, RDS and CloudWatch go through the client factory (./clients.ts), so they reach AWS, or
 * a local twin's simulated account when the factory's routing says so ({@link twinAwsTransport}).
 * IAM and CloudFormation have no getter in the factory (nothing else in cutover calls them): their
 * clients are made here ({@link iamClient}, {@link cloudFormationClient}) with the default credential
 * chain and the given region. Tests mock every client with aws-sdk-client-mock.
 *
 * Not-found answers are values (`undefined`, a `missing` list); every other SDK error is thrown as the
 * SDK threw it, so the doctor can name the call that failed.
 */
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeRulesCommand, type Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetRoleCommand, IAMClient, SimulatePrincipalPolicyCommand, type ContextEntry } from '@aws-sdk/client-iam';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import type { AwsService, InProcessTransport } from './clients';
import { cloudWatchClient, ecsClient, elbv2Client, rdsClient } from './clients';

/** The SDK error `name` (its error code), or undefined for a non-Error. */
export function errorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

// ---------------------------------------------------------------- ECS

/** An ECS cluster as DescribeClusters returns it. */
export interface ClusterInfo {
  readonly arn: string;
  /** `ACTIVE` | `PROVISIONING` | `DEPROVISIONING` | `FAILED` | `INACTIVE` */
  readonly status: string;
}

/**
 * ECS DescribeClusters of one cluster.
 * @param name cluster name (or ARN)
 * @returns the cluster, or undefined when ECS reports it `MISSING` (in `failures`)
 * @throws the SDK's error for anything else (e.g. AccessDeniedException)
 */
export async function describeCluster(name: string): Promise<ClusterInfo | undefined> {
  const out = await ecsClient().send(new DescribeClustersCommand({ clusters: [name] }));
  const cluster = out.clusters?.[0];
  if (!cluster) return undefined;
  return { arn: cluster.clusterArn ?? '', status: cluster.status ?? 'UNKNOWN' };
}

/** An ECS service as DescribeServices returns it. */
export interface ServiceInfo {
  readonly name: string;
  readonly arn: string;
  /** `ACTIVE` | `DRAINING` | `INACTIVE` */
  readonly status: string;
  /** ARN of the service's task definition revision. */
  readonly taskDefinition?: string;
}

/**
 * ECS DescribeServices of up to 10 services in one cluster.
 * @returns the services found by name (ECS `MISSING` failures are absent)
 * @throws ClusterNotFoundException (SDK) when the cluster does not exist; other SDK errors as they are
 */
export async function describeServices(cluster: string, names: readonly string[]): Promise<Map<string, ServiceInfo>> {
  const out = await ecsClient().send(new DescribeServicesCommand({ cluster, services: [...names] }));
  const found = new Map<string, ServiceInfo>();
  for (const s of out.services ?? []) {
    if (!s.serviceName) continue;
    found.set(s.serviceName, { name: s.serviceName, arn: s.serviceArn ?? '', status: s.status ?? 'UNKNOWN', taskDefinition: s.taskDefinition });
  }
  return found;
}

/** The parts of a task definition the doctor reads. */
export interface TaskDefinitionInfo {
  readonly arn: string;
  readonly family: string;
  /** Container name → image reference, e.g. `app` → `1234.dkr.ecr.eu-west-1.amazonaws.com/app:v1`. */
  readonly containers: ReadonlyArray<{ readonly name: string; readonly image: string }>;
  /** The task role and the task execution role, when set. */
  readonly roleArns: readonly string[];
}

/**
 * ECS DescribeTaskDefinition.
 * @param taskDefinition family, `family:revision` or ARN
 * @returns undefined when ECS answers ClientException "Unable to describe task definition" (it does not exist)
 * @throws the SDK's error for anything else
 */
export async function describeTaskDefinition(taskDefinition: string): Promise<TaskDefinitionInfo | undefined> {
  try {
    const out = await ecsClient().send(new DescribeTaskDefinitionCommand({ taskDefinition }));
    const td = out.taskDefinition;
    if (!td) return undefined;
    return {
      arn: td.taskDefinitionArn ?? taskDefinition,
      family: td.family ?? '',
      containers: (td.containerDefinitions ?? []).map((c) => ({ name: c.name ?? '', image: c.image ?? '' })),
      roleArns: [td.taskRoleArn, td.executionRoleArn].filter((r): r is string => typeof r === 'string' && r !== ''),
    };
  } catch (err) {
    if (errorName(err) === 'ClientException' && /unable to describe task definition/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------- ELBv2

/**
 * The actions of a listener (its default actions: ELBv2 DescribeListeners) or of a listener rule
 * (DescribeRules).
 * @returns undefined when ELBv2 answers ListenerNotFoundException / RuleNotFoundException
 * @throws the SDK's error for anything else
 */
export async function describeRouteActions(route: { readonly listenerArn: string } | { readonly ruleArn: string }): Promise<Action[] | undefined> {
  try {
    if ('listenerArn' in route) {
      const out = await elbv2Client().send(new DescribeListenersCommand({ ListenerArns: [route.listenerArn] }));
      const listener = out.Listeners?.[0];
      return listener ? (listener.DefaultActions ?? []) : undefined;
    }
    const out = await elbv2Client().send(new DescribeRulesCommand({ RuleArns: [route.ruleArn] }));
    const rule = out.Rules?.[0];
    return rule ? (rule.Actions ?? []) : undefined;
  } catch (err) {
    if (errorName(err) === 'ListenerNotFoundException' || errorName(err) === 'RuleNotFoundException') return undefined;
    throw err;
  }
}

/**
 * The target groups a forward action sends to, with their weights (a plain `TargetGroupArn` forward
 * counts as weight 1), or undefined when the actions have no forward action.
 */
export function forwardTargets(actions: readonly Action[]): Array<{ readonly targetGroupArn: string; readonly weight: number }> | undefined {
  const forward = actions.find((a) => a.Type === 'forward');
  if (!forward) return undefined;
  const groups = forward.ForwardConfig?.TargetGroups;
  if (groups && groups.length > 0) return groups.map((g) => ({ targetGroupArn: g.TargetGroupArn ?? '', weight: g.Weight ?? 1 }));
  return forward.TargetGroupArn ? [{ targetGroupArn: forward.TargetGroupArn, weight: 1 }] : [];
}

// ---------------------------------------------------------------- CloudWatch

/** A configured alarm as CloudWatch describes it. */
export interface AlarmInfo {
  readonly name: string;
  readonly kind: 'metric' | 'composite';
  /** `OK` | `ALARM` | `INSUFFICIENT_DATA` */
  readonly state: string;
}

/**
 * CloudWatch DescribeAlarms of the named metric and composite alarms (100 names per call, paginated).
 * @returns the alarms found, by name; names that do not exist are absent
 * @throws the SDK's error
 */
export async function describeAlarms(names: readonly string[]): Promise<Map<string, AlarmInfo>> {
  const found = new Map<string, AlarmInfo>();
  for (let i = 0; i < names.length; i += 100) {
    const chunk = names.slice(i, i + 100);
    let NextToken: string | undefined;
    do {
      const out = await cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: chunk, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken }));
      for (const a of out.MetricAlarms ?? []) if (a.AlarmName) found.set(a.AlarmName, { name: a.AlarmName, kind: 'metric', state: a.StateValue ?? 'INSUFFICIENT_DATA' });
      for (const a of out.CompositeAlarms ?? []) if (a.AlarmName) found.set(a.AlarmName, { name: a.AlarmName, kind: 'composite', state: a.StateValue ?? 'INSUFFICIENT_DATA' });
      NextToken = out.NextToken;
    } while (NextToken);
  }
  return found;
}

// ---------------------------------------------------------------- RDS

/** A DB instance or DB cluster as RDS describes it. */
export interface DatabaseInfo {
  readonly arn: string;
  /** e.g. `postgres`, `aurora-postgresql`, `mysql` */
  readonly engine: string;
  readonly engineVersion?: string;
  /** e.g. `available`, `stopped`, `backing-up` */
  readonly status: string;
  /** For an instance that belongs to a cluster (Aurora): the cluster's identifier. */
  readonly clusterIdentifier?: string;
}

/**
 * RDS DescribeDBInstances (`kind: 'instance'`) or DescribeDBClusters (`'cluster'`) of one identifier.
 * @returns undefined when RDS answers DBInstanceNotFoundFault / DBClusterNotFoundFault
 * @throws the SDK's error for anything else
 */
export async function describeDatabase(kind: 'instance' | 'cluster', identifier: string): Promise<DatabaseInfo | undefined> {
  try {
    if (kind === 'instance') {
      const out = await rdsClient().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }));
      const db = out.DBInstances?.[0];
      if (!db) return undefined;
      return { arn: db.DBInstanceArn ?? '', engine: db.Engine ?? '', engineVersion: db.EngineVersion, status: db.DBInstanceStatus ?? 'unknown', clusterIdentifier: db.DBClusterIdentifier };
    }
    const out = await rdsClient().send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }));
    const db = out.DBClusters?.[0];
    if (!db) return undefined;
    return { arn: db.DBClusterArn ?? '', engine: db.Engine ?? '', engineVersion: db.EngineVersion, status: db.Status ?? 'unknown' };
  } catch (err) {
    if (errorName(err) === 'DBInstanceNotFoundFault' || errorName(err) === 'DBClusterNotFoundFault') return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------- IAM and CloudFormation

/** An IAM client in `region` (IAM is global; the region only picks the endpoint's partition). */
export const iamClient = (region?: string): IAMClient => new IAMClient(region ? { region } : {});
/** A CloudFormation client in `region` (@default the SDK's: AWS_REGION, the profile). */
export const cloudFormationClient = (region?: string): CloudFormationClient => new CloudFormationClient(region ? { region } : {});

/** An IAM role of a stack. */
export interface StackRole {
  /** The role's logical id in the template, e.g. `FunctionsTrafficRole1A2B3C4D`. */
  readonly logicalId: string;
  /** The role's name (its physical id). */
  readonly roleName: string;
}

/**
 * The IAM roles of a CloudFormation stack (ListStackResources, paginated; type `AWS::IAM::Role`).
 * @throws the SDK's error; a stack that does not exist is CloudFormation's `ValidationError`
 *   "Stack with id <name> does not exist"
 */
export async function listStackRoles(stack: string, region?: string): Promise<StackRole[]> {
  const cfn = cloudFormationClient(region);
  const roles: StackRole[] = [];
  let NextToken: string | undefined;
  do {
    const out = await cfn.send(new ListStackResourcesCommand({ StackName: stack, NextToken }));
    for (const r of out.StackResourceSummaries ?? []) {
      if (r.ResourceType === 'AWS::IAM::Role' && r.PhysicalResourceId && r.LogicalResourceId) {
        roles.push({ logicalId: r.LogicalResourceId, roleName: r.PhysicalResourceId });
      }
    }
    NextToken = out.NextToken;
  } while (NextToken);
  return roles;
}

/**
 * IAM GetRole: the role's ARN and description (cutover's function roles are described
 * `cutover <function>: …`, lib/constructs/cutover-function.ts).
 * @throws the SDK's error (NoSuchEntityException, AccessDenied, …)
 */
export async function getRole(roleName: string, region?: string): Promise<{ arn: string; description: string }> {
  const out = await iamClient(region).send(new GetRoleCommand({ RoleName: roleName }));
  return { arn: out.Role?.Arn ?? '', description: out.Role?.Description ?? '' };
}

/** One action's verdict from the IAM policy simulator. */
export interface SimulatedDecision {
  readonly action: string;
  readonly resource: string;
  /** `allowed` | `explicitDeny` | `implicitDeny` */
  readonly decision: string;
}

/**
 * IAM SimulatePrincipalPolicy: may the role do `actions` on `resourceArn`? Counts the role's
 * identity policies, its permissions boundary and the organization's SCPs (as the simulator does);
 * paginated (`Marker`).
 * @param resourceArn one resource ARN, or `*` for actions without resource-level permissions
 * @param context condition keys the real request would carry, e.g. `ecs:cluster`
 * @throws the SDK's error (AccessDenied when the caller may not simulate)
 */
export async function simulatePrincipalPolicy(
  roleArn: string,
  actions: readonly string[],
  resourceArn: string,
  context: readonly ContextEntry[] = [],
  region?: string,
): Promise<SimulatedDecision[]> {
  const iam = iamClient(region);
  const decisions: SimulatedDecision[] = [];
  let Marker: string | undefined;
  do {
    const out = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: roleArn,
        ActionNames: [...actions],
        ...(resourceArn === '*' ? {} : { ResourceArns: [resourceArn] }),
        ...(context.length > 0 ? { ContextEntries: [...context] } : {}),
        Marker,
      }),
    );
    for (const r of out.EvaluationResults ?? []) {
      decisions.push({ action: r.EvalActionName ?? '?', resource: r.EvalResourceName ?? resourceArn, decision: r.EvalDecision ?? 'implicitDeny' });
    }
    Marker = out.IsTruncated ? out.Marker : undefined;
  } while (Marker);
  return decisions;
}

// ---------------------------------------------------------------- a twin's simulated account over HTTP

/**
 * The wire format between a separate process (the CLI) and a local twin's simulated account:
 * `POST <base>/<service>/<Operation>` with the SDK v3 command input as JSON (e.g.
 * `POST http://127.0.0.1:4780/aws/ecs/DescribeServices` `{"cluster":"c","services":["s"]}`); the
 * answer is `200` and the command output as JSON, or `4xx/5xx` and `{"__type": "<error code>",
 * "message": "…"}` — the SDK error's `name`, as the simulator throws it (e.g. `ClusterNotFoundException`).
 * {@link twinAwsTransport} is the client half, {@link handleTwinAwsRequest} the server half.
 */
export const TWIN_AWS_PATH = '/aws';

/** An SDK-like error rebuilt from the twin's error answer (its `name` is the error code). */
export class TwinAwsError extends Error {
  constructor(
    name: string,
    message: string,
    /** `client` for 4xx, `server` for 5xx, as the SDK's `$fault`. */
    readonly $fault: 'client' | 'server',
    /** HTTP status of the answer. */
    readonly statusCode: number,
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * An {@link InProcessTransport} (for `configureClients({ transport })`) that sends ECS, ELBv2, RDS and
 * CloudWatch commands to a twin's simulated account at `baseUrl` (the twin's index field `aws`).
 * @param fetchFn @default global fetch
 * @throws (send rejects with) {@link TwinAwsError} carrying the simulator's error code, or fetch's error
 */
export function twinAwsTransport(baseUrl: string, fetchFn: typeof fetch = fetch): InProcessTransport {
  const base = baseUrl.replace(/\/+$/, '');
  const services = new Set<AwsService>(['ecs', 'elbv2', 'rds', 'cloudwatch']);
  return {
    handles: (service) => services.has(service),
    async send(service, operation, input) {
      const res = await fetchFn(`${base}/${service}/${operation}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input ?? {}),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        throw new TwinAwsError('InternalFailure', `the twin answered ${service} ${operation} with something that is not JSON (HTTP ${res.status})`, 'server', res.status);
      }
      if (!res.ok) {
        const name = typeof body.__type === 'string' ? body.__type : `HTTP${res.status}`;
        const message = typeof body.message === 'string' ? body.message : text.slice(0, 300);
        throw new TwinAwsError(name, message, res.status >= 500 ? 'server' : 'client', res.status);
      }
      return body;
    },
  };
}

/**
 * The server half of the wire format: run one request against `transport` (the twin's simulator).
 * Only read-only operations (Describe* / List* / Get*) are served unless `allowWrites`.
 * @param path the request path after {@link TWIN_AWS_PATH}, e.g. `/ecs/DescribeServices`
 * @param body the request body (JSON text; empty means `{}`)
 * @returns the HTTP status and JSON body to answer with (never throws)
 */
export async function handleTwinAwsRequest(
  transport: InProcessTransport,
  path: string,
  body: string,
  options: { readonly allowWrites?: boolean } = {},
): Promise<{ statusCode: number; body: string }> {
  const fail = (statusCode: number, type: string, message: string) => ({ statusCode, body: JSON.stringify({ __type: type, message }) });
  const match = /^\/([a-z0-9]+)\/([A-Z][A-Za-z0-9]+)$/.exec(path);
  if (!match) return fail(404, 'UnknownOperationException', `expected POST ${TWIN_AWS_PATH}/<service>/<Operation>, got ${path}`);
  const [, service, operation] = match as unknown as [string, AwsService, string];
  if (!transport.handles(service)) return fail(404, 'UnknownServiceException', `the twin does not simulate the ${service} service`);
  if (!options.allowWrites && !/^(Describe|List|Get)/.test(operation)) {
    return fail(403, 'AccessDeniedException', `${service} ${operation} is not a read-only operation; the twin serves only Describe*, List* and Get* here`);
  }
  let input: unknown;
  try {
    input = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    return fail(400, 'SerializationException', 'the request body is not JSON');
  }
  try {
    return { statusCode: 200, body: JSON.stringify(await transport.send(service, operation, input)) };
  } catch (err) {
    const e = err as { name?: string; message?: string; $fault?: string };
    return fail(e.$fault === 'server' ? 500 : 400, e.name ?? 'InternalFailure', e.message ?? String(err));
  }
}
