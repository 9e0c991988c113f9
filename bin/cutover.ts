#!/usr/bin/env node
/**
 * cutover CLI — a thin wrapper over the library.
 *
 *   cutover local [--port 4780] [--config file] [--account file] [--state-dir .cutover] [--reset]
 *                 [--no-demo] [--exit] [--time-scale 60]
 *
 * `local` starts the living twin (lib/local): the sample application's v1 running as processes behind
 * a real load balancer on loopback, PostgreSQL per database, alarms evaluated from real metrics. It
 * plays the demo (pushes v2, v3, v4) unless --no-demo, prints the URLs and serves until Ctrl-C (or
 * exits after the demo with --exit: status 0 only if every outcome was as expected).
 *
 * The account survives a restart: on a state directory with a saved state (`twin-state.json`) the
 * twin resumes it instead of starting v1, says what it resumed, and does not play the demo (which
 * needs a fresh twin: `--reset`). `--exit` (a verdict on the demo) on a saved state is refused at
 * once, naming `--reset`; `--exit --no-demo` resumes the account and exits 0 once it is up.
 *
 * The API answers 503 + Retry-After until the twin is ready. Ctrl-C, SIGTERM and SIGHUP stop the
 * twin cleanly (also while it starts), the same signal again a second later forces it; whatever ends
 * the twin, its task and PostgreSQL processes do not outlive it (lib/local/live/reaper.ts).
 *
 * Operator commands (lib/cli): `status`, `history`, `deploy`, `retry`, `rollback`, `approve`, `reject`,
 * `promote`, `abort` — against cutover's stack on AWS (default credentials and region; `--stack`) or a
 * running twin (`--endpoint http://127.0.0.1:4780`). Errors are one line on stderr and exit code 1.
 * The twin's modules are loaded only by `local`, so operator commands start fast.
 */
import { formatGitHubEvent } from '../lib/local/github/server';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import '../lib/local/node-warnings';
import { ConfigError } from '../lib/config';
import { explainError } from '../lib/cli/errors';
import { addGlobalOptions, addOperatorCommands } from '../lib/cli/program';
import type { LiveEcs } from '../lib/local/simulator';
import { LOCAL_GITHUB_TOKEN, type Twin } from '../lib/local/twin';

const DEFAULT_CONFIG = 'lib/config/samples/hello-world.json';
const DEFAULT_ACCOUNT = 'lib/config/samples/hello-world.twin.json';
/** Simulated seconds per real second of `cutover local`: a 5-minute bake takes 5 s, a 60 s alarm period 1 s. */
const DEFAULT_TIME_SCALE = 60;
/** The twin's default port (lib/local/twin.ts `DEFAULT_PORT`; not imported so that operator commands stay light). */
const DEFAULT_TWIN_PORT = 4780;
/** Real milliseconds a clean stop of `cutover local` may take before its processes are killed. */
const STOP_TIMEOUT_MS = 60_000;

function integer(name: string, min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

const program = new Command()
  .name('cutover')
  .description('Blue/green deployments with schema migrations and automatic rollback for ECS + PostgreSQL on AWS.')
  .configureHelp({ showGlobalOptions: true })
  .addHelpText(
    'after',
    `
Operator commands talk to cutover's stack on AWS (your default credentials and region) or, with
--endpoint, to a running local twin. Examples:
  cutover status --endpoint http://127.0.0.1:${DEFAULT_TWIN_PORT}
  cutover deploy hello-world production --commit 0123456789abcdef0123456789abcdef01234567 --wait
  cutover history hello-world production --limit 5
  cutover abort hello-world production --reason "p99 latency doubled"`,
  );
addGlobalOptions(program);

program
  .command('local')
  .description('Run the local twin: the real state machines and handlers against a simulated AWS, on 127.0.0.1.')
  .option('-p, --port <port>', `port on 127.0.0.1 (env CUTOVER_PORT)`, integer('--port', 0, 65535), process.env.CUTOVER_PORT ? Number(process.env.CUTOVER_PORT) : DEFAULT_TWIN_PORT)
  .option('-c, --config <file>', 'cutover config (JSON)', DEFAULT_CONFIG)
  .option('-a, --account <file>', 'twin account: images, listener ports, health checks, alarms (JSON)', DEFAULT_ACCOUNT)
  .option('--state-dir <dir>', 'where databases, snapshots, task logs and the account state live (a restart resumes it)', '.cutover')
  .option('--reset', 'delete the state directory first: a fresh account with the initial release')
  .option('--no-demo', 'serve without playing the demo')
  .option('--exit', 'exit after the demo: status 0 only if every outcome was as expected')
  .option('--time-scale <n>', 'simulated seconds per real second', integer('--time-scale', 1, 100000), DEFAULT_TIME_SCALE)
  .option('--traffic <rps>', 'while serving, send this many requests per second (half of them writes) to each production listener, so alarms have metrics; 0 = none', integer('--traffic', 0, 1000), 0)
  .action(
    async (opts: { port: number; config: string; account: string; stateDir: string; reset?: boolean; demo: boolean; exit?: boolean; timeScale: number; traffic: number }) => {
      const [{ loadConfigFile }, { playDemo }, { createTimeline }, { loadTwinAccountFile }, { describeResume, TWIN_STATE_FILE }, { LOCAL_WEBHOOK_SECRET, Twin }, { killTrackedProcesses }] =
        await Promise.all([
          import('../lib/config'),
          import('../lib/local/demo'),
          import('../lib/local/timeline'),
          import('../lib/local/live/account'),
          import('../lib/local/live/persist'),
          import('../lib/local/twin'),
          import('../lib/local/live/reaper'),
        ]);
      const config = loadConfigFile(opts.config);
      const { account, images } = loadTwinAccountFile(opts.account);
      // `--exit` is a verdict on the demo, which plays only on a fresh account: exiting 0 on a saved
      // one would pass without checking anything. Refused before anything starts.
      if (opts.exit && opts.demo && !opts.reset && existsSync(join(resolve(opts.stateDir), TWIN_STATE_FILE))) {
        throw new Error(
          `--exit plays the demo and exits with its verdict, but the state directory ${opts.stateDir} holds a saved account (${TWIN_STATE_FILE}), ` +
            `and the demo plays only on a fresh one. Add --reset to start clean (it deletes ${opts.stateDir}), use another --state-dir, ` +
            `or add --no-demo to only check that the saved account starts.`,
        );
      }
      const secret = process.env.CUTOVER_GITHUB_WEBHOOK_SECRET || LOCAL_WEBHOOK_SECRET;
      const started = Date.now();
      // A closed terminal or pipe must not crash the twin in the middle of stopping its processes.
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

      // Ctrl-C (SIGINT), SIGTERM and a closed terminal (SIGHUP) stop the twin cleanly, also while it
      // starts; the same signal again (a second later or more: not a relay's duplicate) forces it.
      const loads: Array<{ stop(): Promise<void> }> = [];
      const abortStart = new AbortController();
      let starting: Promise<unknown> = Promise.resolve();
      let twin: Twin<LiveEcs> | undefined;
      let stopping: { since: number; done: Promise<never> } | undefined;
      const forceExit = (code: number, why: string): never => {
        const n = killTrackedProcesses('SIGKILL');
        console.error(`${why}: killed ${n} process(es) of the twin without a clean stop.`);
        process.exit(code);
      };
      const stop = (code: number, why?: string): Promise<never> => {
        stopping ??= {
          since: Date.now(),
          done: (async (): Promise<never> => {
            console.log(`\n${why ? `${why}: s` : 'S'}topping the twin (tasks, load balancer, databases)…${why ? ' (the same again forces it)' : ''}`);
            const bound = setTimeout(() => forceExit(code, `The twin did not stop within ${STOP_TIMEOUT_MS / 1000} s`), STOP_TIMEOUT_MS);
            bound.unref();
            abortStart.abort(new Error(`the start was interrupted (${why ?? 'stop'})`));
            await starting.catch(() => undefined); // an interrupted start stops what it started
            await Promise.all(loads.map((l) => l.stop()));
            await twin?.stop();
            process.exit(code);
          })(),
        };
        return stopping.done;
      };
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        process.on(signal, () => {
          const code = 128 + (osConstants.signals[signal] ?? 0);
          if (!stopping) void stop(code, `Got ${signal}`);
          else if (Date.now() - stopping.since >= 1000) forceExit(code, `Got ${signal} again`);
        });
      }

      console.log(`Starting the cutover local twin (time scale ×${opts.timeScale}: a 5-minute bake takes ${(300 / opts.timeScale).toFixed(1)} s; state in ${opts.stateDir})`);
      const start = Twin.start({
        config,
        port: opts.port,
        timeScale: opts.timeScale,
        webhookSecret: secret,
        signal: abortStart.signal,
        onListening: (url) => console.log(`  · API on ${url}: answers 503 with Retry-After until the twin is ready`),
        live: { account, images, stateDir: opts.stateDir, reset: opts.reset, progress: (line) => console.log(`  · ${line}`) },
      });
      starting = start;
      try {
        twin = await start;
      } catch (err) {
        if (stopping) return stopping.done; // interrupted: the stop exits
        throw err;
      }
      if (stopping) return stopping.done;
      const shutdown = (code: number) => stop(code);
      twin.sfn.onHistoryEvent(createTimeline({ now: () => twin!.clock.nowMs() }));
      // Notifications (SNS in the twin) are kept in `twin.sim.sns.published` and printed as they come.
      twin.sim.sns.onPublish((m) => console.log(`  ✉ ${m.subject ?? '(no subject)'}`));
      // What cutover reads from and reports to GitHub (the twin's GitHub API double).
      twin.github?.onEvent((e) => console.log(`  ${formatGitHubEvent(e)}`));
      console.log(`cutover local twin on ${twin.url}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const resumed = twin.live.resumed;
      if (resumed) {
        console.log(`Resumed from ${opts.stateDir} (saved ${resumed.savedAt}): ${describeResume(resumed)}`);
        for (const r of resumed.interrupted) console.log(`  ! deployment ${r.deploymentId} was interrupted: ${r.message}`);
        if (resumed.removed.length > 0) console.log(`  · removed ${resumed.removed.length} database file(s) no resource referenced any more`);
      } else {
        const initial = account.initialRelease.imageTag;
        console.log(`Started a fresh account in ${opts.stateDir}: ${Object.values(config.services).flatMap((s) => Object.keys(s.environments)).join(', ')} on ${initial}`);
      }
      let ok = true;
      if (opts.demo && resumed) {
        console.log('The demo plays on a fresh twin (v1 live), and this one resumed a saved account: to play it, start clean with `npm start -- --reset`.');
      } else if (opts.demo) {
        const result = await playDemo(twin);
        ok = result.ok;
        console.log(`\nDemo ${ok ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.checks.map((c) => `${c.ok ? '✔' : '✘'} ${c.name}`).join(', ')}`);
      }
      printUrls(twin, secret === LOCAL_WEBHOOK_SECRET, LOCAL_WEBHOOK_SECRET);
      if (opts.exit) return shutdown(ok ? 0 : 1);
      if (opts.traffic > 0) {
        const { LoadGenerator } = await import('../lib/local/live/load-generator');
        for (const s of Object.values(config.services)) {
          for (const env of Object.values(s.environments)) {
            const url = twin.live.loadBalancer.url('listenerArn' in env.production ? env.production.listenerArn : env.production.ruleArn);
            const load = new LoadGenerator({ url, ratePerSecond: opts.traffic });
            load.start();
            loads.push(load);
            console.log(`Sending ${opts.traffic} requests/s to ${url}.`);
          }
        }
      }
      console.log('\nServing until Ctrl-C (or SIGTERM).');
    },
  );

function printUrls(twin: Twin<LiveEcs>, defaultSecret: boolean, localSecret: string) {
  const listeners = Object.values(twin.config.services).flatMap((s) =>
    Object.entries(s.environments).flatMap(([name, env]) => [
      `  ${`${name} traffic`.padEnd(17)} ${twin.live.loadBalancer.url('listenerArn' in env.production ? env.production.listenerArn : env.production.ruleArn)}`,
      ...(env.test ? [`  ${`${name} test`.padEnd(17)} ${twin.live.loadBalancer.url('listenerArn' in env.test ? env.test.listenerArn : env.test.ruleArn)}`] : []),
    ]),
  );
  console.log(`
Local URLs
${listeners.join('\n')}
  Task logs        ${twin.live.logDir}
  GitHub webhook   POST ${twin.url}/webhooks/github   (secret: ${defaultSecret ? `the local default "${localSecret}"` : 'from CUTOVER_GITHUB_WEBHOOK_SECRET'})
  EventBridge      POST ${twin.url}/events
  Step Functions   ${twin.url}   e.g.
    aws stepfunctions list-executions --endpoint-url ${twin.url} --region us-east-1 --state-machine-arn ${twin.deployStateMachineArn}
  (the AWS CLI needs any credentials, e.g. AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)
  Operator CLI     npm run cutover -- status --endpoint ${twin.url}
                   (also history, deploy, retry, rollback, approve, reject, promote, abort; --help)${twin.github ? `
  GitHub API       ${twin.github.url}   (the local double: token "${LOCAL_GITHUB_TOKEN}"); report a check as CI would, e.g.
    curl -H 'Authorization: token ${LOCAL_GITHUB_TOKEN}' -d '{"state":"success","context":"build"}' ${twin.github.url}/repos/<owner>/<repo>/statuses/<sha>` : ''}`);
}

addOperatorCommands(program, {
  // Operator commands exit when done (the SDK's idle keep-alive sockets must not hold the process).
  exit: (code) => process.stdout.write('', () => process.exit(code)),
});

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError || (err instanceof Error && err.name === 'StateDirInUseError')) {
    console.error(err.message);
  } else {
    console.error(`cutover: ${explainError(err)}`);
  }
  process.exit(1);
});
