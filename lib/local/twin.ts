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
import { configureClients, dynamoClient, dynamoDocClient, resetClients } from '../aws/clients';
import { setClockSource } from '../aws/clock';
import { handleTwinAwsRequest, TWIN_AWS_PATH } from '../aws/inspect';
import { Ledger } from '../aws/ledger';
import { FUNCTIONS, PARTITION_PLACEHOLDER, STATE_MACHINES, placeholdersIn, stateMachineFile, stateMachineName, type StateMachineName } from '../catalog';
import { CONFIG_ENV_VAR, configRegionAndAccount } from '../config/load';
import type { Config } from '../config/schema';
import { alarmEventPattern } from '../domain/alarm-events';
import { imageEventPattern, scanEventPatterns } from '../domain/image-events';
import { codeCommitDeployInput, codeCommitEventPattern } from '../domain/event-rules';
import { SimClock } from './clock';
import { createLedgerTable, startDynalite, type LocalDynamo } from './dynamodb';
import { matchesPattern } from './event-pattern';
import { handleFunctionUrlRequest } from './function-url';
import { Readiness, startHttpServer } from './http';
import { LambdaFunctionError, LocalLambda } from './lambda-runtime';
import { EcsSimulator, LiveEcs, Simulator, type AlarmStateChangeEvent } from './simulator';
import type { TwinAccount } from './live/account';
import { LiveLoadBalancer } from './live/load-balancer';
import { PostgresHost } from './live/postgres/host';
import { ProcessGuard, type ReapedProcess } from './live/reaper';
import { LocalRegistry } from './live/registry';
import {
  assertStateMatches,
  environmentTraffic,
  exportTwinState,
  readTwinState,
  removeOrphanedDatabaseFiles,
  restoreAccountResources,
  restoreLedger,
  restoreRoutesAndTaskDefinitions,
  resumeServices,
  TWIN_STATE_FILE,
  TwinStateSaver,
  type ResumeSummary,
  type TwinState,
} from './live/persist';
import { seedLiveResources, startInitialReleases } from './live/seed';
import type { LocalImage, TargetRegistry } from './live/types';
import { LocalStepFunctions } from './stepfunctions/service';
import { GitHubDouble } from './github/server';
import { GITHUB_API_URL_ENV, clearGitHubCache } from '../aws/github';
import { deliverWebhook } from './webhook-delivery';
import { LISTENER_URLS_ENV } from '../aws/smoke-http';
import { handleStepFunctionsRequest } from './stepfunctions/api';
import { startExecutionTask } from './stepfunctions/nested';

export const DEFAULT_PORT = 4780;
/** The twin's webhook secret when `CUTOVER_GITHUB_WEBHOOK_SECRET` is not set. Local use only. */
export const LOCAL_WEBHOOK_SECRET = 'cutover-local-webhook-secret';
export const WEBHOOK_SECRET_NAME = 'cutover/github-webhook-secret';
export const TABLE_NAME = 'cutover-ledger';
/** The twin's SNS topic for cutover's notifications. */
export const NOTIFICATION_TOPIC_NAME = 'cutover-notifications';
/** The token the twin's GitHub API double accepts; the twin puts it in each service's `github.tokenSecretArn` secret. */
export const LOCAL_GITHUB_TOKEN = 'cutover-local-github-token';

export interface TwinOptions {
  readonly config: Config;
  /** TCP port on 127.0.0.1. @default 4780; 0 picks a free port */
  readonly port?: number;
  /** Simulated seconds per real second. @default 300 (a 5-minute bake takes 1 s) */
  readonly timeScale?: number;
  /** GitHub webhook secret. @default LOCAL_WEBHOOK_SECRET */
  readonly webhookSecret?: string;
  /** @default the region of the config's ARNs (`configRegionAndAccount`), else 'us-east-1' */
  readonly region?: string;
  /** @default the account of the config's ARNs, else '123456789012' */
  readonly accountId?: string;
  /** Simulator options, e.g. deployment / snapshot durations (simulated seconds). */
  readonly simulator?: Partial<ConstructorParameters<typeof Simulator>[0]>;
  /**
   * Without a living twin only: every release image counts as pushed to ECR already (the simulator's
   * `ecr.autoPush`), for tests that are not about the image wait. The living twin never does: its ECR
   * holds the account's images and what is pushed later.
   * @default true
   */
  readonly autoPushImages?: boolean;
  /**
   * Called with the API's URL (`http://127.0.0.1:<port>`) as soon as it listens — before the twin is
   * ready: until then it answers every request with 503, `Retry-After` and what it is waiting for.
   */
  readonly onListening?: (url: string) => void;
  /**
   * Aborts the start (e.g. Ctrl-C while starting): at its next step the start stops what it started
   * (processes included) and rejects with the signal's reason.
   */
  readonly signal?: AbortSignal;
}

/** The living twin (issue 3): real processes, a real load balancer, PostgreSQL, evaluated alarms. */
export interface LiveTwinOptions {
  /** The twin account: images, listener ports, health checks, alarms, initial release (lib/local/live/account.ts). */
  readonly account: TwinAccount;
  /** The account's images with absolute working directories (`loadTwinAccountFile` resolves them). */
  readonly images: Record<string, LocalImage>;
  /**
   * Where databases, snapshots, task logs and the account state (`twin-state.json`) live. A twin
   * started on a state directory with a state file resumes that account (lib/local/live/persist.ts)
   * instead of seeding the initial release. @default '.cutover'
   */
  readonly stateDir?: string;
  /** Delete the state directory first: a fresh account with the initial release. @default false */
  readonly reset?: boolean;
  /**
   * Real milliseconds between checks whether the account changed; the state file is written when it
   * did (and also when an execution ends, and when the twin stops). @default 2000
   */
  readonly saveIntervalMs?: number;
  /** Listener ARN → real port, over the account's `listenerPorts` (0 = any free port, e.g. in tests). */
  readonly listenerPorts?: Record<string, number>;
  /** Progress lines while the initial release starts (or the saved account resumes). */
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
  /** Absolute path of the account state file (`<stateDir>/twin-state.json`). */
  readonly stateFile: string;
  /** What the twin resumed from the state file; undefined when it started a fresh account. */
  readonly resumed?: ResumeSummary;
  /** Processes a previous twin left running on the state directory, stopped by this start (absent when none). */
  readonly reaped?: readonly ReapedProcess[];
  /**
   * Write the account state file now (it is also written when an execution ends, every few seconds
   * when something changed, and when the twin stops).
   * @throws (rejects with) the error of the Scan or the file write
   */
  saveState(): Promise<void>;
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
    /** ARN of every state machine of the catalog (`STATE_MACHINES`), by short name (`deploy`, ...). */
    readonly stateMachineArns: Readonly<Record<StateMachineName, string>>,
    /** Endpoint of the twin's DynamoDB (dynalite) and the ledger table's name. */
    readonly dynamodb: { readonly endpoint: string; readonly tableName: string },
    readonly webhookSecret: string,
    /** Whether the API serves or answers 503 (starting, stopping). */
    private readonly readiness: Readiness,
    private readonly closers: Array<() => Promise<void>>,
    /** Only on the living twin (`Twin.start({ live })`). */
    readonly live: Ecs extends LiveEcs ? LiveParts : undefined,
    /**
     * The local GitHub API double (lib/local/github), when a service has `github`: check runs, commit
     * statuses, deployments; the handlers reach it through `CUTOVER_GITHUB_API_URL`, and its check and
     * status webhooks are delivered, signed, to the twin's `/webhooks/github`.
     */
    readonly github: GitHubDouble | undefined = undefined,
  ) {}

  /**
   * Start the twin. With `live`, ECS tasks are processes behind a real load balancer, databases are
   * PostgreSQL and alarms evaluate real metrics; the initial release is running when this resolves —
   * or, on a state directory with a state file (and no `reset`), the saved account is running again
   * (its services stable behind the saved weights, its ledger back; `live.resumed` says what).
   *
   * The HTTP server listens first (`onListening`) and answers every request with 503 + `Retry-After`
   * and what the twin is still waiting for, until everything is up (lib/local/http.ts `Readiness`).
   * The living twin first stops what a previous twin left running on its state directory
   * (lib/local/live/reaper.ts), and runs a reaper process so that its own processes do not outlive it.
   * @throws ConfigError for an invalid account; TwinStateError when the state file is corrupt or was
   *   written for another config or account (naming the file, the differences and `--reset`);
   *   StateDirInUseError when a twin that is still running uses the state directory; Error when the
   *   port is taken (`EADDRINUSE`) or the initial release or a resumed service cannot start (naming the
   *   step); the signal's reason when `signal` aborts the start
   */
  static async start(options: TwinOptions & { live: LiveTwinOptions }): Promise<Twin<LiveEcs>>;
  static async start(options: TwinOptions): Promise<Twin<EcsSimulator>>;
  static async start(options: TwinOptions & { live?: LiveTwinOptions }): Promise<Twin<EcsSimulator> | Twin<LiveEcs>> {
    // The config's own region and account (its ARNs), so that the twin's resources and events match them.
    const fromConfig = configRegionAndAccount(options.config);
    const region = options.region ?? fromConfig?.region ?? 'us-east-1';
    const accountId = options.accountId ?? fromConfig?.accountId ?? '123456789012';
    const webhookSecret = options.webhookSecret ?? LOCAL_WEBHOOK_SECRET;
    // What the API's 503 answers list until the twin is ready, ticked off step by step.
    const readiness = new Readiness();
    readiness.waitFor('account', options.live ? 'the simulated AWS account (state directory, load balancer, database endpoints)' : 'the simulated AWS account');
    readiness.waitFor('dynamodb', 'DynamoDB (dynalite) and the deployment ledger table');
    readiness.waitFor('stateMachines', 'the state machines');
    readiness.waitFor('handlers', 'the Lambda handlers');
    if (options.live) readiness.waitFor('services', 'the ECS services and their databases');
    /** `key` is done; stop here if the start was aborted. */
    const checkpoint = (key?: string) => {
      if (key) readiness.done(key);
      options.signal?.throwIfAborted();
    };
    const progress = (line: string) => {
      readiness.waitFor('services', `the ECS services and their databases (now: ${line})`);
      options.live?.progress?.(line);
    };
    const closers: Array<() => Promise<void>> = [];
    try {
      checkpoint();
      // Filled in as the start goes on; the routes only run once the twin is ready.
      let clock!: SimClock;
      let sim!: Simulator<EcsSimulator> | Simulator<LiveEcs>;
      let dynamo!: LocalDynamo;
      let sfn!: LocalStepFunctions;
      let deployArn = '';
      const lambda = new LocalLambda(region, accountId);
      const stateMachineArns: Partial<Record<StateMachineName, string>> = {};
      // The API first: from now on a request is answered (503 + Retry-After until the twin is ready).
      const http = await startHttpServer(
        options.port ?? DEFAULT_PORT,
        {
          webhook: (event) => invokeWebhook(lambda, event),
          events: (body) => routeEvents(body),
          stepFunctions: (target, body) => handleStepFunctionsRequest(sfn, target, body),
          aws: (path, body) => handleTwinAwsRequest(sim, path, body),
          // ECR with writes: a CI (or `aws ecr put-image`) pushes and re-tags images here.
          ecr: (operation, body) => handleTwinAwsRequest(sim, `/ecr/${operation}`, body, { allowWrites: true }),
          // The approval function's URL (AWS_IAM auth): SigV4 verified, the caller from the account's principals.
          functionUrl: async (name, request) =>
            name === 'approval'
              ? handleFunctionUrlRequest(request, {
                  functionName: name,
                  region,
                  accountId,
                  principals: options.live?.account.principals ?? {},
                  invoke: (event) => lambda.invoke(name, event),
                })
              : { statusCode: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Message: `The twin has no function URL "${name}"; see GET / (approvalUrl).` }) },
          index: () => ({
            service: 'cutover local twin',
            webhook: `${http.url}/webhooks/github`,
            /** The approval function's URL (AWS_IAM auth: sign with SigV4, service lambda), for `cutover approve`. */
            approvalUrl: `${http.url}/lambda-url/approval/`,
            events: `${http.url}/events`,
            stepFunctions: http.url,
            stateMachines: Object.values(stateMachineArns),
            stateMachineArns,
            dynamodb: { endpoint: dynamo.endpoint, tableName: TABLE_NAME },
            /** The simulated account's read-only API (lib/aws/inspect.ts), for `cutover doctor --endpoint`. */
            aws: `${http.url}${TWIN_AWS_PATH}`,
            region,
            timeScale: clock.timeScale,
            now: clock.now().toISOString(),
          }),
        },
        { readiness },
      );
      closers.push(() => http.close());
      options.onListening?.(http.url);

      // The living twin's state directory: what a previous twin left running there is stopped first
      // (before --reset deletes its process file); then its saved account (if any) is read, so that
      // the simulated clock resumes where it stopped.
      let guard: ProcessGuard | undefined;
      if (options.live) {
        guard = await ProcessGuard.acquire(resolve(options.live.stateDir ?? '.cutover'));
        const { previousTwin, reaped } = guard.report;
        if (reaped.length > 0) {
          options.live.progress?.(
            `stopped ${reaped.length} process(es) a previous twin${previousTwin ? ` (pid ${previousTwin.pid}, no longer running)` : ''} left running: ` +
              reaped.map((p) => `${p.what} (pid ${p.pid}${p.signal === 'SIGKILL' ? ', killed' : ''})`).join('; '),
          );
        }
      }
      const persisted = options.live ? openStateDir(options.live, options.config, { region, accountId }) : undefined;
      if (guard) {
        const held = guard;
        held.activate();
        // Pushed before the processes' closers: it closes after they stopped them.
        closers.push(() => held.close());
      }
      clock = new SimClock({
        timeScale: options.timeScale ?? 300,
        start: persisted?.saved ? new Date(Math.max(Date.now(), persisted.saved.simulatedTimeMs)) : undefined,
      });
      let live: LiveBuild | undefined;
      if (options.live && persisted) {
        const built = await startLive(options.live, options.config, { clock, region, accountId, simulator: options.simulator }, persisted, closers);
        sim = built.sim;
        live = built;
        sim.secrets.seedSecret(WEBHOOK_SECRET_NAME, webhookSecret);
      } else {
        sim = new Simulator<EcsSimulator>({ clock, region, accountId, ...options.simulator });
        sim.seedFromConfig(options.config, { webhookSecret, webhookSecretName: WEBHOOK_SECRET_NAME });
        sim.ecr.autoPush = options.autoPushImages ?? true;
      }
      checkpoint('account');

      dynamo = await startDynalite();
      const startedDynamo = dynamo;
      closers.push(() => startedDynamo.close());

      configureClients({
        region,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        endpoints: { dynamodb: dynamo.endpoint, sfn: http.url },
        transport: sim,
      });
      closers.push(async () => resetClients());
      // The handlers read the time from lib/aws/clock.ts: the twin's simulated clock, like the rest of it.
      setClockSource(() => clock.now());
      closers.push(async () => setClockSource(undefined));
      await createLedgerTable(dynamoClient(), TABLE_NAME);
      const ledgerRestore = persisted?.saved ? await restoreLedger(dynamoDocClient(), TABLE_NAME, persisted.saved, options.config) : undefined;
      checkpoint('dynamodb');

      sfn = new LocalStepFunctions({
        region,
        accountId,
        // The twin's clock: Wait states and callback timeouts wait for real work that holds it, a
        // handler holds it while it runs, and every date (executions, history, $$.Execution.StartTime)
        // is in the timeline of the handlers and the simulated AWS.
        clock,
        resolveTask: (resource) => {
          if (lambda.resolve(resource)) return (input) => lambda.invoke(resource, input);
          // Step Functions → Step Functions (states:startExecution, .sync, .sync:2, .waitForTaskToken).
          const nested = startExecutionTask(resource, () => sfn);
          if (nested) return nested;
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

      // Every state machine's ARN is known before any is created, so definitions can start each other.
      for (const sm of STATE_MACHINES) stateMachineArns[sm.name] = sfn.stateMachineArn(stateMachineName(sm.name));
      const values: Record<string, string> = {
        [PARTITION_PLACEHOLDER]: 'aws',
        ...Object.fromEntries(
          FUNCTIONS.filter((f) => 'placeholder' in f).map((f) => [(f as { placeholder: string }).placeholder, lambda.arn(f.name)]),
        ),
        ...Object.fromEntries(STATE_MACHINES.map((sm) => [sm.placeholder, stateMachineArns[sm.name]!])),
      };
      for (const sm of STATE_MACHINES) {
        const definition = substituteDefinition(readFileSync(stateMachineFile(sm.file), 'utf8'), values);
        const created = await sfn.createStateMachine({ name: stateMachineName(sm.name), definition });
        if (created.stateMachineArn !== stateMachineArns[sm.name]) throw new Error(`State machine ${sm.name} was created as ${created.stateMachineArn}, expected ${stateMachineArns[sm.name]}.`);
      }
      deployArn = stateMachineArns.deploy!;
      const allArns = stateMachineArns as Record<StateMachineName, string>;
      const dynamoInfo = { endpoint: dynamo.endpoint, tableName: TABLE_NAME };
      checkpoint('stateMachines');

      // GitHub: a local API double when a service reads checks or reports deployments; its token is the
      // SecretString of each service's tokenSecretArn in the twin's Secrets Manager.
      const githubRepos = Object.values(options.config.services).flatMap((svc) => (svc.github && 'github' in svc.repository ? [svc.repository.github] : []));
      let github: GitHubDouble | undefined;
      if (githubRepos.length > 0) {
        for (const svc of Object.values(options.config.services)) {
          if (svc.github && /-[A-Za-z0-9]{6}$/.test(svc.github.tokenSecretArn)) sim.secrets.seedSecretWithArn(svc.github.tokenSecretArn, LOCAL_GITHUB_TOKEN);
        }
        const double = await GitHubDouble.start({ token: LOCAL_GITHUB_TOKEN, repositories: githubRepos, now: () => clock.now().getTime() });
        github = double;
        const offWebhooks = double.onWebhook((eventName, payload, deliveryId) => {
          void deliverWebhook(http.url, webhookSecret, eventName, payload, deliveryId).catch(() => undefined);
        });
        process.env[GITHUB_API_URL_ENV] = double.url;
        closers.push(async () => {
          offWebhooks();
          delete process.env[GITHUB_API_URL_ENV];
          clearGitHubCache();
          await double.close();
        });
      }

      Object.assign(process.env, {
        AWS_REGION: region,
        [CONFIG_ENV_VAR]: JSON.stringify(options.config),
        TABLE_NAME,
        STATE_MACHINE_ARN: deployArn,
        ROLLBACK_STATE_MACHINE_ARN: stateMachineArns.rollback!,
        // Notifications go to the simulator's SNS: kept in `sim.sns.published`, printed by `cutover local`.
        NOTIFICATION_TOPIC_ARN: sim.sns.seedTopic(NOTIFICATION_TOPIC_NAME),
        WEBHOOK_SECRET_ARN: WEBHOOK_SECRET_NAME,
        POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
        // EMF records are for CloudWatch Logs; the twin's figures come from `cutover metrics` (the ledger).
        POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
      });
      await lambda.load();
      checkpoint('handlers');

      const codeCommitPattern = codeCommitEventPattern(options.config, { partition: 'aws', region, account: accountId });
      const alarmPattern = alarmEventPattern(options.config);
      const imagePattern = imageEventPattern(options.config);
      const scanPatterns = scanEventPatterns(options.config);
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
          } else if (alarmPattern && matchesPattern(alarmPattern as never, ev)) {
            // EventBridge invokes the function asynchronously: a failure is its own (logged), not the sender's.
            const result = await lambda.invoke('alarm', ev).catch((err: unknown) => ({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
            results.push({ rule: 'alarm', result });
          } else if ((imagePattern && matchesPattern(imagePattern as never, ev)) || scanPatterns.some((p) => matchesPattern(p as never, ev))) {
            // Asynchronous invocation, as for alarms: a failure is the function's own.
            const result = await lambda.invoke('image-events', ev).catch((err: unknown) => ({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
            results.push({ rule: ev['detail-type'] === 'ECR Image Action' ? 'image-push' : 'image-scan', result });
          } else {
            results.push({ rule: null, ignored: 'no rule matches this event' });
          }
        }
        return { statusCode: 200, body: { results } };
      }

      if (options.live && live && persisted && sim.ecs instanceof LiveEcs) {
        const liveSim = sim as Simulator<LiveEcs>;
        const alarmEvents = live.parts.alarmEvents;
        liveSim.cloudwatch.onStateChange((event) => {
          alarmEvents.push(event);
          return routeEvents(event).then(() => undefined);
        });
        // ECR's push events (a CI's push, `aws ecr put-image`) go to the image-events rule.
        const unsubscribeImages = liveSim.ecr.onImageAction((event) => void routeEvents(event));
        const unsubscribeScans = liveSim.ecr.onScanComplete((event) => void routeEvents(event));
        closers.push(async () => {
          unsubscribeImages();
          unsubscribeScans();
        });
        const stopEvaluation = liveSim.cloudwatch.startEvaluation();
        closers.push(async () => stopEvaluation());
        const saved = persisted.saved;
        // The longest step (databases and tasks start, ~5 s): an abort does not wait for its end; the
        // closers stop what it started, and ECS and the PostgreSQL host start nothing once closed.
        await untilAborted(
          saved
            ? resumeServices(liveSim, options.config, saved, { progress })
            : startInitialReleases(liveSim, live.postgres, options.config, options.live.account, { progress }),
          options.signal,
        );

        const built = live;
        const accountImages = Object.keys(options.live.images);
        const saver = new TwinStateSaver({
          file: persisted.file,
          intervalMs: options.live.saveIntervalMs,
          collect: () =>
            exportTwinState({
              config: options.config,
              region,
              accountId,
              clock,
              sim: liveSim,
              registry: built.parts.registry,
              accountImages,
              databaseUrls: built.databaseUrls,
              ledger: { client: dynamoDocClient, tableName: TABLE_NAME },
            }),
        });
        sfn.onHistoryEvent((_arn, event) => {
          if (/^Execution(Succeeded|Failed|Aborted|TimedOut)$/.test(event.type ?? '')) saver.requestSave();
        });
        await saver.save({ force: true });
        saver.start();
        closers.push(() => saver.close());
        const resumed: ResumeSummary | undefined =
          saved && ledgerRestore
            ? {
                file: persisted.file,
                savedAt: saved.savedAt,
                environments: environmentTraffic(saved, options.config),
                deployments: ledgerRestore.deployments,
                interrupted: ledgerRestore.interrupted,
                removed: built.removed,
              }
            : undefined;
        const parts: LiveParts = {
          ...built.parts,
          ...(resumed ? { resumed } : {}),
          ...(guard?.report.reaped.length ? { reaped: guard.report.reaped } : {}),
          saveState: () => saver.save({ force: true }).then(() => undefined),
        };
        checkpoint('services');
        readiness.ready();
        return new Twin<LiveEcs>(options.config, clock, liveSim, sfn, lambda, new Ledger(TABLE_NAME), http.url, deployArn, allArns, dynamoInfo, webhookSecret, readiness, closers, parts, github);
      }
      // The lazy simulator emits alarm events on SetAlarmState: the same rules route them.
      const unsubscribeAlarms = sim.cloudwatch.onStateChange((event) => routeEvents(event).then(() => undefined));
      closers.push(async () => void unsubscribeAlarms());
      const unsubscribeImages = sim.ecr.onImageAction((event) => void routeEvents(event));
      const unsubscribeScans = sim.ecr.onScanComplete((event) => void routeEvents(event));
      closers.push(async () => {
        unsubscribeImages();
        unsubscribeScans();
      });
      checkpoint();
      readiness.ready();
      return new Twin<EcsSimulator>(options.config, clock, sim as Simulator<EcsSimulator>, sfn, lambda, new Ledger(TABLE_NAME), http.url, deployArn, allArns, dynamoInfo, webhookSecret, readiness, closers, undefined, github);
    } catch (err) {
      readiness.stopping();
      for (const close of closers.reverse()) await close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * "CI passed": report each required check of `service` (config `checks.required`) on `commit` as a
   * completed, successful check run on the twin's GitHub double, which sends the `check_run` webhooks
   * to the twin (a deployment waiting at its checks gate goes on). Nothing without a checks gate.
   * @throws Error for a service that is not configured
   */
  ciPassed(service: string, commit: string): void {
    const svc = this.config.services[service];
    if (!svc) throw new Error(`ciPassed: service "${service}" is not configured`);
    if (!svc.checks || !this.github || !('github' in svc.repository)) return;
    for (const name of svc.checks.required) this.github.setCheckRun(svc.repository.github, commit, { name, status: 'completed', conclusion: 'success' });
  }

  /** The region the twin's ARNs are in. */
  get region(): string {
    return this.sfn.region;
  }

  /**
   * ARN of a catalog state machine (`cutover-<name>`) in the twin, e.g. `stateMachineArn('rollback')`.
   * @throws Error naming the known state machines for a name the catalog does not list
   */
  stateMachineArn(name: StateMachineName): string {
    const arn = (this.stateMachineArns as Record<string, string | undefined>)[name];
    if (!arn) throw new Error(`No state machine '${name}' in the twin; known: ${Object.keys(this.stateMachineArns).join(', ')}.`);
    return arn;
  }

  /**
   * Stop the twin: from now on the API answers 503 (stopping); the state file is written one last
   * time, executions are stopped, then the tasks, the load balancer and the databases (their processes
   * have exited when this resolves), the HTTP server and dynalite; client routing and the handlers'
   * clock are restored. Never rejects; calling it again does nothing more.
   */
  async stop(): Promise<void> {
    this.readiness.stopping();
    // No new handler runs; those still running finish against open services (bounded: a stuck one
    // does not hold the stop).
    await this.lambda.close();
    const closers = this.closers.splice(0).reverse();
    for (const close of closers) await close().catch(() => undefined);
  }
}

/**
 * `work`'s outcome, or the signal's reason as soon as it aborts (then `work` is left to settle on its
 * own, its failure ignored: the caller stops what it was doing).
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** The living twin's state directory, opened before anything starts. */
interface OpenedStateDir {
  /** Absolute state directory. */
  readonly stateDir: string;
  /** Absolute path of its state file. */
  readonly file: string;
  /** The saved account, validated against the config; undefined for a fresh account. */
  readonly saved?: TwinState;
}

/**
 * Resolve the state directory (deleting it first with `reset`) and read its state file, if any.
 * @throws TwinStateError when the file is corrupt or does not match the config and account; Error for
 *   a `saveIntervalMs` that is not a positive number
 */
function openStateDir(options: LiveTwinOptions, config: Config, account: { region: string; accountId: string }): OpenedStateDir {
  if (options.saveIntervalMs !== undefined && !(options.saveIntervalMs > 0)) {
    throw new Error(`live.saveIntervalMs must be real milliseconds > 0, got ${options.saveIntervalMs}`);
  }
  const stateDir = resolve(options.stateDir ?? '.cutover');
  if (options.reset) rmSync(stateDir, { recursive: true, force: true });
  const file = join(stateDir, TWIN_STATE_FILE);
  const saved = readTwinState(file);
  if (saved) assertStateMatches(saved, file, config, account);
  return { stateDir, file, saved };
}

/** What {@link startLive} built. */
interface LiveBuild {
  readonly sim: Simulator<LiveEcs>;
  readonly postgres: PostgresHost;
  /** The live parts, without what only the end of the start knows (`resumed`, `saveState`). */
  readonly parts: Omit<LiveParts, 'resumed' | 'saveState'>;
  /** Config database identifier → its endpoint URL. */
  readonly databaseUrls: Record<string, string>;
  /** Orphaned data directories and snapshot files removed. */
  readonly removed: string[];
}

/**
 * Build the living twin's AWS: state directory, registry, PostgreSQL host, live ECS, seeded (or, with
 * a saved account, restored) resources and the load balancer (listening). Pushes what it starts onto
 * `closers` (stopped in reverse order). The services start later ({@link startInitialReleases} or
 * {@link resumeServices}).
 */
async function startLive(
  options: LiveTwinOptions,
  config: Config,
  base: { clock: SimClock; region: string; accountId: string; simulator?: TwinOptions['simulator'] },
  persisted: OpenedStateDir,
  closers: Array<() => Promise<void>>,
): Promise<LiveBuild> {
  const { stateDir, saved } = persisted;
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const removed = removeOrphanedDatabaseFiles(join(stateDir, 'rds'), saved?.rds);
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
  // Every account image is an ECR image too (no events: nothing listens yet).
  registry.linkEcr(sim.ecr);
  if (saved) restoreAccountResources(saved, { sim, registry, postgres });
  seedLiveResources(sim, config, options.account);
  const configRoutes = new Set(
    Object.values(config.services).flatMap((svc) => Object.values(svc.environments).flatMap((env) => [env.production, env.test].filter((r) => r !== undefined).map((r) => ('listenerArn' in r! ? r!.listenerArn : r!.ruleArn)))),
  );
  lb = new LiveLoadBalancer({
    elbv2: sim.elbv2,
    clock: base.clock,
    publish: sim.cloudwatch.publishServiceMetrics,
    // Only the config's listeners: an account file may name more (e.g. the sample's staging, with a config of production alone).
    ports: Object.fromEntries(Object.entries({ ...options.account.listenerPorts, ...options.listenerPorts }).filter(([arn]) => configRoutes.has(arn))),
  });
  const loadBalancer = lb;
  closers.push(() => loadBalancer.close());
  const urls = new Map<string, string>();
  for (const s of Object.values(config.services)) {
    for (const env of Object.values(s.environments)) {
      const db = env.database;
      if (db?.instanceIdentifier) urls.set(db.instanceIdentifier, await postgres.connectionUrl(db.instanceIdentifier, 'instance'));
      if (db?.clusterIdentifier) urls.set(db.clusterIdentifier, await postgres.connectionUrl(db.clusterIdentifier, 'cluster'));
    }
  }
  const databaseUrls = Object.fromEntries(urls);
  if (saved) restoreRoutesAndTaskDefinitions(saved, sim, databaseUrls);
  await lb.start();
  // The handlers reach a listener (the verify HTTP checks) at the twin's local load balancer.
  process.env[LISTENER_URLS_ENV] = JSON.stringify(lb.urls());
  closers.push(async () => void delete process.env[LISTENER_URLS_ENV]);
  const parts: LiveBuild['parts'] = {
    registry,
    loadBalancer,
    postgres,
    stateDir,
    logDir,
    stateFile: persisted.file,
    alarmEvents: [],
    databaseUrl: (identifier) => {
      const url = urls.get(identifier);
      if (!url) throw new Error(`The config names no database ${identifier}; known: ${[...urls.keys()].join(', ') || 'none'}.`);
      return url;
    },
  };
  return { sim, postgres, parts, databaseUrls, removed };
}

/**
 * The API Gateway integration of the github-webhook function: the function's result, as API Gateway
 * returns it. A function error is answered 500, as API Gateway does — but with what failed (API
 * Gateway says only "Internal Server Error"; the twin is local, so the sender may as well know):
 * `{"message": "Internal Server Error: the github-webhook function failed (<type>: <message>). …"}`;
 * the HTTP server logs it. Never throws.
 */
export async function invokeWebhook(lambda: LocalLambda, event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    return (await lambda.invoke('github-webhook', event)) as APIGatewayProxyStructuredResultV2;
  } catch (err) {
    const why = err instanceof LambdaFunctionError ? `${err.errorType}: ${err.errorMessage}` : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return {
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: `Internal Server Error: the github-webhook function failed (${why}). Nothing was deployed; redeliver once the cause is fixed.` }),
    };
  }
}
