/**
 * The local twin: cutover's AWS deployment, embedded in one process.
 *
 * Same state machine files and the same Lambda handlers as on AWS. What differs is only where the
 * clients go (lib/aws/clients.ts routing): ECS / ELBv2 / RDS / CloudWatch / Secrets Manager to the
 * in-process simulator, DynamoDB to dynalite on loopback, Step Functions to the twin's own API.
 * Simulated time: `timeScale` simulated seconds pass per real second (Wait states, retries, ECS
 * deployments, snapshots).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { configureClients, dynamoClient, resetClients } from '../aws/clients';
import { Ledger } from '../aws/ledger';
import { FUNCTIONS, PARTITION_PLACEHOLDER, STATE_MACHINES, placeholdersIn, stateMachineFile } from '../catalog';
import { CONFIG_ENV_VAR } from '../config/load';
import type { Config } from '../config/schema';
import { codeCommitDeployInput, codeCommitEventPattern } from '../domain/event-rules';
import { SimClock } from './clock';
import { createLedgerTable, startDynalite, type LocalDynamo } from './dynamodb';
import { matchesPattern } from './event-pattern';
import { startHttpServer } from './http';
import { LocalLambda } from './lambda-runtime';
import { EcsSimulator, LiveEcs, Simulator, type AlarmStateChangeEvent } from './simulator';
import type { TwinAccount } from './live/account';
import { LiveLoadBalancer } from './live/load-balancer';
import { PostgresHost } from './live/postgres/host';
import { LocalRegistry } from './live/registry';
import { seedLiveResources, startInitialReleases } from './live/seed';
import type { LocalImage, TargetRegistry } from './live/types';
import { LocalStepFunctions } from './stepfunctions/service';
import { handleStepFunctionsRequest } from './stepfunctions/api';

export const DEFAULT_PORT = 4780;
/** The twin's webhook secret when `CUTOVER_GITHUB_WEBHOOK_SECRET` is not set. Local use only. */
export const LOCAL_WEBHOOK_SECRET = 'cutover-local-webhook-secret';
export const WEBHOOK_SECRET_NAME = 'cutover/github-webhook-secret';
export const TABLE_NAME = 'cutover-ledger';

export interface TwinOptions {
  readonly config: Config;
  /** TCP port on 127.0.0.1. @default 4780; 0 picks a free port */
  readonly port?: number;
  /** Simulated seconds per real second. @default 300 (a 5-minute bake takes 1 s) */
  readonly timeScale?: number;
  /** GitHub webhook secret. @default LOCAL_WEBHOOK_SECRET */
  readonly webhookSecret?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '123456789012' */
  readonly accountId?: string;
  /** Simulator options, e.g. deployment / snapshot durations (simulated seconds). */
  readonly simulator?: Partial<ConstructorParameters<typeof Simulator>[0]>;
}

/** The living twin (issue 3): real processes, a real load balancer, PostgreSQL, evaluated alarms. */
export interface LiveTwinOptions {
  /** The twin account: images, listener ports, health checks, alarms, initial release (lib/local/live/account.ts). */
  readonly account: TwinAccount;
  /** The account's images with absolute working directories (`loadTwinAccountFile` resolves them). */
  readonly images: Record<string, LocalImage>;
  /** Where databases, snapshots and task logs live. @default '.cutover' */
  readonly stateDir?: string;
  /** Delete the state directory first. @default false */
  readonly reset?: boolean;
  /** Listener ARN → real port, over the account's `listenerPorts` (0 = any free port, e.g. in tests). */
  readonly listenerPorts?: Record<string, number>;
  /** Progress lines while the initial release starts. */
  readonly progress?: (line: string) => void;
}

/** What only the living twin has. */
export interface LiveParts {
  /** The twin's container registry (push an image before deploying its tag). */
  readonly registry: LocalRegistry;
  /** The load balancer: `url(listenerArn)`. */
  readonly loadBalancer: LiveLoadBalancer;
  /** The PostgreSQL host: snapshot/restore `metrics()`. */
  readonly postgres: PostgresHost;
  /** Absolute state directory. */
  readonly stateDir: string;
  /** Directory of the tasks' logs (`<cluster>/<task id>.log`). */
  readonly logDir: string;
  /** Alarm state change events CloudWatch emitted (also routed to the twin's event rules), oldest first. */
  readonly alarmEvents: AlarmStateChangeEvent[];
  /**
   * Connection URL of a database identifier's endpoint (it follows renames, like the RDS endpoint).
   * @throws Error for an identifier the config does not name
   */
  databaseUrl(identifier: string): string;
}

/** Replace every `${Name}` in a definition; throws naming any placeholder without a value. */
export function substituteDefinition(text: string, values: Record<string, string>): string {
  const missing = placeholdersIn(text).filter((p) => values[p] === undefined);
  if (missing.length > 0) throw new Error(`No value for placeholder(s) ${missing.join(', ')} in the state machine definition.`);
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => values[name]!);
}

export class Twin<Ecs extends EcsSimulator | LiveEcs = EcsSimulator> {
  private constructor(
    readonly config: Config,
    readonly clock: SimClock,
    readonly sim: Simulator<Ecs>,
    readonly sfn: LocalStepFunctions,
    readonly lambda: LocalLambda,
    readonly ledger: Ledger,
    /** `http://127.0.0.1:<port>` */
    readonly url: string,
    /** ARN of the `deploy` state machine. */
    readonly deployStateMachineArn: string,
    readonly webhookSecret: string,
    private readonly closers: Array<() => Promise<void>>,
    /** Only on the living twin (`Twin.start({ live })`). */
    readonly live: Ecs extends LiveEcs ? LiveParts : undefined,
  ) {}

  /**
   * Start the twin. With `live`, ECS tasks are processes behind a real load balancer, databases are
   * PostgreSQL and alarms evaluate real metrics; the initial release is running when this resolves.
   * @throws ConfigError for an invalid account; Error when the initial release cannot start (naming the step)
   */
  static async start(options: TwinOptions & { live: LiveTwinOptions }): Promise<Twin<LiveEcs>>;
  static async start(options: TwinOptions): Promise<Twin<EcsSimulator>>;
  static async start(options: TwinOptions & { live?: LiveTwinOptions }): Promise<Twin<EcsSimulator> | Twin<LiveEcs>> {
    const region = options.region ?? 'us-east-1';
    const accountId = options.accountId ?? '123456789012';
    const webhookSecret = options.webhookSecret ?? LOCAL_WEBHOOK_SECRET;
    const clock = new SimClock({ timeScale: options.timeScale ?? 300 });
    const closers: Array<() => Promise<void>> = [];
    try {
      let sim: Simulator<EcsSimulator> | Simulator<LiveEcs>;
      let live: LiveParts | undefined;
      if (options.live) {
        const built = await startLive(options.live, options.config, { clock, region, accountId, simulator: options.simulator }, closers);
        sim = built.sim;
        live = built.live;
        sim.secrets.seedSecret(WEBHOOK_SECRET_NAME, webhookSecret);
      } else {
        sim = new Simulator<EcsSimulator>({ clock, region, accountId, ...options.simulator });
        sim.seedFromConfig(options.config, { webhookSecret, webhookSecretName: WEBHOOK_SECRET_NAME });
      }

      const dynamo: LocalDynamo = await startDynalite();
      closers.push(() => dynamo.close());

      const lambda = new LocalLambda(region, accountId);
      let sfn!: LocalStepFunctions;
      let deployArn = '';
      const http = await startHttpServer(options.port ?? DEFAULT_PORT, {
        webhook: (event) => invokeWebhook(lambda, event),
        events: (body) => routeEvents(body),
        stepFunctions: (target, body) => handleStepFunctionsRequest(sfn, target, body),
        index: () => ({
          service: 'cutover local twin',
          webhook: `${http.url}/webhooks/github`,
          events: `${http.url}/events`,
          stepFunctions: http.url,
          stateMachines: [deployArn],
          timeScale: clock.timeScale,
        }),
      });
      closers.push(() => http.close());

      configureClients({
        region,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        endpoints: { dynamodb: dynamo.endpoint, sfn: http.url },
        transport: sim,
      });
      closers.push(async () => resetClients());
      await createLedgerTable(dynamoClient(), TABLE_NAME);

      sfn = new LocalStepFunctions({
        region,
        accountId,
        timeScale: clock.timeScale,
        resolveTask: (resource) => {
          if (lambda.resolve(resource)) return (input) => lambda.invoke(resource, input);
          if (resource === 'arn:aws:states:::lambda:invoke') {
            return async (input) => {
              const i = input as { FunctionName: string; Payload?: unknown };
              return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: await lambda.invoke(i.FunctionName, i.Payload) };
            };
          }
          if (resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
            return async (input) => {
              const i = input as { FunctionName: string; Payload?: unknown };
              return lambda.invoke(i.FunctionName, i.Payload);
            };
          }
          return undefined;
        },
      });
      closers.push(async () => sfn.stop());

      const values: Record<string, string> = {
        [PARTITION_PLACEHOLDER]: 'aws',
        ...Object.fromEntries(
          FUNCTIONS.filter((f) => 'placeholder' in f).map((f) => [(f as { placeholder: string }).placeholder, lambda.arn(f.name)]),
        ),
      };
      for (const sm of STATE_MACHINES) {
        const definition = substituteDefinition(readFileSync(stateMachineFile(sm.file), 'utf8'), values);
        const created = await sfn.createStateMachine({ name: `cutover-${sm.name}`, definition });
        if (sm.name === 'deploy') deployArn = created.stateMachineArn;
      }

      Object.assign(process.env, {
        AWS_REGION: region,
        [CONFIG_ENV_VAR]: JSON.stringify(options.config),
        TABLE_NAME,
        STATE_MACHINE_ARN: deployArn,
        WEBHOOK_SECRET_ARN: WEBHOOK_SECRET_NAME,
        POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
      });
      await lambda.load();

      const codeCommitPattern = codeCommitEventPattern(options.config, { partition: 'aws', region, account: accountId });
      async function routeEvents(body: unknown): Promise<{ statusCode: number; body: unknown }> {
        const entries: unknown[] =
          body && typeof body === 'object' && Array.isArray((body as { Entries?: unknown[] }).Entries)
            ? (body as { Entries: Array<{ Detail?: string; DetailType?: string; Source?: string; Resources?: string[] }> }).Entries.map((e) => ({
                version: '0',
                id: crypto.randomUUID(),
                'detail-type': e.DetailType,
                source: e.Source,
                account: accountId,
                time: clock.now().toISOString(),
                region,
                resources: e.Resources ?? [],
                detail: e.Detail ? JSON.parse(e.Detail) : {},
              }))
            : [body];
        const results = [];
        for (const event of entries) {
          const ev = event as Record<string, unknown>;
          if (codeCommitPattern && matchesPattern(codeCommitPattern as never, ev)) {
            const started = await sfn.startExecution({
              stateMachineArn: deployArn,
              name: typeof ev.id === 'string' ? ev.id.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80) : undefined,
              input: JSON.stringify(codeCommitDeployInput(ev)),
            });
            results.push({ rule: 'codecommit-push', executionArn: started.executionArn });
          } else {
            results.push({ rule: null, ignored: 'no rule matches this event' });
          }
        }
        return { statusCode: 200, body: { results } };
      }

      if (options.live && live && sim.ecs instanceof LiveEcs) {
        const liveSim = sim as Simulator<LiveEcs>;
        liveSim.cloudwatch.onStateChange((event) => {
          live.alarmEvents.push(event);
          return routeEvents(event).then(() => undefined);
        });
        const stopEvaluation = liveSim.cloudwatch.startEvaluation();
        closers.push(async () => stopEvaluation());
        await startInitialReleases(liveSim, live.postgres, options.config, options.live.account, { progress: options.live.progress });
        return new Twin<LiveEcs>(options.config, clock, liveSim, sfn, lambda, new Ledger(TABLE_NAME), http.url, deployArn, webhookSecret, closers, live);
      }
      return new Twin<EcsSimulator>(options.config, clock, sim as Simulator<EcsSimulator>, sfn, lambda, new Ledger(TABLE_NAME), http.url, deployArn, webhookSecret, closers, undefined);
    } catch (err) {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      throw err;
    }
  }

  /** Stop executions, the HTTP server and dynalite; restore default client routing. */
  async stop(): Promise<void> {
    for (const close of [...this.closers].reverse()) await close().catch(() => undefined);
  }
}

/**
 * Build the living twin's AWS: state directory, registry, PostgreSQL host, live ECS, seeded resources
 * and the load balancer (listening). Pushes what it starts onto `closers` (stopped in reverse order).
 */
async function startLive(
  options: LiveTwinOptions,
  config: Config,
  base: { clock: SimClock; region: string; accountId: string; simulator?: TwinOptions['simulator'] },
  closers: Array<() => Promise<void>>,
): Promise<{ sim: Simulator<LiveEcs>; live: LiveParts }> {
  const stateDir = resolve(options.stateDir ?? '.cutover');
  if (options.reset) rmSync(stateDir, { recursive: true, force: true });
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const registry = new LocalRegistry(options.images);
  const postgres = new PostgresHost(join(stateDir, 'rds'));
  closers.push(() => postgres.close());
  let lb: LiveLoadBalancer | undefined;
  const targets: TargetRegistry = {
    register: (tg, target) => lb!.register(tg, target),
    deregister: (tg, target) => (lb ? lb.deregister(tg, target) : Promise.resolve()),
    state: (tg, target) => lb?.state(tg, target),
  };
  const sim = Simulator.live({
    clock: base.clock,
    region: base.region,
    accountId: base.accountId,
    engine: postgres,
    ...base.simulator,
    liveEcs: { targets, images: registry, logDir },
  });
  closers.push(() => sim.close());
  seedLiveResources(sim, config, options.account);
  lb = new LiveLoadBalancer({
    elbv2: sim.elbv2,
    clock: base.clock,
    publish: sim.cloudwatch.publishServiceMetrics,
    ports: { ...options.account.listenerPorts, ...options.listenerPorts },
  });
  const loadBalancer = lb;
  closers.push(() => loadBalancer.close());
  await lb.start();
  const urls = new Map<string, string>();
  for (const s of Object.values(config.services)) {
    for (const env of Object.values(s.environments)) {
      const db = env.database;
      if (db?.instanceIdentifier) urls.set(db.instanceIdentifier, await postgres.connectionUrl(db.instanceIdentifier, 'instance'));
      if (db?.clusterIdentifier) urls.set(db.clusterIdentifier, await postgres.connectionUrl(db.clusterIdentifier, 'cluster'));
    }
  }
  const live: LiveParts = {
    registry,
    loadBalancer,
    postgres,
    stateDir,
    logDir,
    alarmEvents: [],
    databaseUrl: (identifier) => {
      const url = urls.get(identifier);
      if (!url) throw new Error(`The config names no database ${identifier}; known: ${[...urls.keys()].join(', ') || 'none'}.`);
      return url;
    },
  };
  return { sim, live };
}

async function invokeWebhook(lambda: LocalLambda, event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    return (await lambda.invoke('github-webhook', event)) as APIGatewayProxyStructuredResultV2;
  } catch {
    // API Gateway answers a function error with 500 and no details.
    return { statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Internal Server Error' }) };
  }
}
