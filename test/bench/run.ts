/**
 * `npm run bench`: measurements of the living twin (real processes, load balancer, PostgreSQL,
 * evaluated alarms), over repeated runs. Not a test: it asserts nothing and is not part of `npm test`;
 * it prints figures to compare across changes.
 *
 * Each run deploys, under steady traffic through the production listener (the load generator, half
 * writes), two pushes of the sample application through the GitHub webhook and the real `deploy`
 * state machine:
 *  1. a good release (v2's image under a new commit): a full blue/green with the config's canary.
 *     Measured: requests that failed or got a 5xx while it ran (the goal is 0), its duration, and the
 *     state transitions of its execution;
 *  2. a bad release (v3's image: some 500s): the 5xx alarm goes to ALARM from real metrics and cutover
 *     rolls back. Measured: the time from the alarm's state change (the CloudWatch event) until 100%
 *     of production traffic is back on the healthy release's target group, in real milliseconds and in
 *     simulated seconds (what it would take on AWS: bake polls, Lambda calls and waits are simulated).
 * Between runs it waits until every alarm is OK again, as an operator would before the next push.
 *
 * Then it grows the database to a stated size and takes DB snapshots and restores through the RDS
 * API (CreateDBSnapshot, RestoreDBInstanceFromDBSnapshot), reporting the real dump and restore times
 * from the PostgreSQL host and checking that each restored database has every row.
 *
 * It also reports how much of the real time the simulated clock stood still because real work held
 * it (tasks starting, health checks, databases, handlers; lib/local/clock.ts), and prints every hold
 * that its real-time bound released (each is a sign of an overloaded machine).
 *
 * Options: `npm run bench -- --help`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateDBSnapshotCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, RestoreDBInstanceFromDBSnapshotCommand } from '@aws-sdk/client-rds';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { PushEvent } from '@octokit/webhooks-types';
import { cloudWatchClient, rdsClient } from '../../lib/aws/clients';
import { ROOT_DIR } from '../../lib/catalog';
import { loadConfigFile } from '../../lib/config';
import type { Config, EnvironmentConfig } from '../../lib/config/schema';
import { deliverPush, examplePush, nextPush } from '../../lib/local/demo';
import { loadTwinAccountFile } from '../../lib/local/live/account';
import { withClient } from '../../lib/local/live/db-inspect';
import { figuresBetween, LoadGenerator } from '../../lib/local/live/load-generator';
import '../../lib/local/node-warnings';
import type { LiveEcs } from '../../lib/local/simulator';
import { Twin } from '../../lib/local/twin';
import { measureBundles, printBundles } from './bundles';

interface BenchOptions {
  runs: number;
  timeScale: number;
  rate: number;
  dbMb: number;
  snapshots: number;
  json?: string;
}

interface ClockFigures {
  /** Real ms the bench ran (twin start to stop). */
  realMs: number;
  /** Real ms during which at least one hold stopped the simulated clock. */
  heldRealMs: number;
  holds: number;
  /** Per kind of work: holds and the sum of their real durations. */
  byKind: Record<string, { holds: number; realMs: number }>;
  /** Holds released by their real-time bound (their warnings). */
  expired: number;
  warnings: string[];
}

interface RunResult {
  run: number;
  promotion: { status: string; ms: number; sent: number; serverErrors: number; failed: number; transitions: number };
  rollback: { status: string; error?: string; alarm?: string; alarmToHealthyMs?: number; alarmToHealthySimSeconds?: number };
}

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number >= 1, got "${v}".`);
  return n;
};

/** Nearest-rank percentile (p in 0-100) of a non-empty list; `undefined` for an empty one. */
function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toFixed(digits));
const routeArn = (r: { listenerArn: string } | { ruleArn: string }) => ('listenerArn' in r ? r.listenerArn : r.ruleArn);

async function main(argv: string[]): Promise<number> {
  const program = new Command('npm run bench --')
    .description('Measure the living twin: alarm → healthy traffic, failed requests across promotions, snapshot/restore times.')
    .option('--runs <n>', 'runs (each: one promotion and one alarm rollback)', positiveInt('--runs'), 20)
    .option('--time-scale <n>', 'simulated seconds per real second', positiveInt('--time-scale'), 60)
    .option('--rate <n>', 'load generator requests per real second', positiveInt('--rate'), 40)
    .option('--db-mb <n>', 'database size (MB of table data) for the snapshot/restore measurement', positiveInt('--db-mb'), 32)
    .option('--snapshots <n>', 'snapshot + restore round trips', positiveInt('--snapshots'), 3)
    .option('--json <file>', 'also write every measurement as JSON to this file')
    .option('--bundles', 'only the Lambda bundles: size and import time of each (always measured first)')
    .showHelpAfterError();
  program.parse(argv, { from: 'user' });
  const opts = program.opts<BenchOptions & { bundles?: boolean }>();

  const bundles = await measureBundles();
  printBundles(bundles);
  if (opts.bundles) return 0;

  const stateDir = mkdtempSync(join(tmpdir(), 'cutover-bench-'));
  const config: Config = structuredClone(loadConfigFile(join(ROOT_DIR, 'lib/config/samples/hello-world.json')));
  const [serviceName, service] = Object.entries(config.services)[0]!;
  const [environmentName, env] = Object.entries(service.environments)[0]! as [string, EnvironmentConfig];
  // No operator in a benchmark: the migrations are transactional, so `keep` loses nothing.
  (env as { databaseFailurePolicy: string }).databaseFailurePolicy = 'keep';
  const { account, images } = loadTwinAccountFile(join(ROOT_DIR, 'lib/config/samples/hello-world.twin.json'));
  const listenerPorts = Object.fromEntries(Object.keys(account.listenerPorts).map((arn) => [arn, 0]));

  console.log(`cutover bench: ${opts.runs} run(s) at ×${opts.timeScale} on the living twin (${serviceName}/${environmentName}), ${opts.rate} req/s`);
  console.log(`  strategy ${JSON.stringify(env.strategy)}; alarms ${env.alarms.join(', ')}; state in ${stateDir}`);
  const started = performance.now();
  const twin = await Twin.start({ config, port: 0, timeScale: opts.timeScale, live: { account, images, stateDir, listenerPorts } });
  console.log(`  twin ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const warnings: string[] = [];
  const stopWarnings = twin.clock.onWarning((w) => {
    warnings.push(w.message);
    console.log(`  ! ${w.message}`);
  });
  let clockFigures: ClockFigures | undefined;
  const load = new LoadGenerator({ url: twin.live.loadBalancer.url(routeArn(env.production)), ratePerSecond: opts.rate });
  const results: RunResult[] = [];
  let snapshotResults: SnapshotResult[] = [];
  try {
    load.start();
    await load.waitForWrites(10);
    let push: PushEvent | undefined;
    const pushRelease = async (version: string, message: string) => {
      push = push ? nextPush(push, message) : { ...examplePush(), head_commit: { ...examplePush().head_commit!, message } };
      twin.live.registry.push(`${env.imageRepository}:${push.after}`, twin.live.registry.resolve(`${env.imageRepository}:${version}`)!);
      twin.ciPassed(Object.keys(twin.config.services)[0]!, push.after);
      const r = await deliverPush(twin.url, twin.webhookSecret, push);
      if (r.status !== 202) throw new Error(`The webhook answered ${r.status} ${JSON.stringify(r.body)}`);
      return String(r.body.executionArn);
    };

    for (let run = 1; run <= opts.runs; run++) {
      await waitAlarmsOk(env.alarms);
      // 1. A good release: promotion under traffic.
      const before = load.figures();
      const t0 = performance.now();
      const goodArn = await pushRelease('v2', `bench run ${run}: good release`);
      const good = await twin.sfn.waitForExecution(goodArn);
      const promotionMs = performance.now() - t0;
      const traffic = figuresBetween(before, load.figures()).total;
      const transitions = (await history(twin, goodArn)).filter((e) => e.type?.endsWith('StateEntered')).length;

      // 2. A bad release: alarm → rollback; time the alarm event to 100% on the healthy target group.
      const healthyTg = fullTargetGroup(twin, env);
      let alarm: { name: string; real: number; sim: number } | undefined;
      let healthyAt: { real: number; sim: number } | undefined;
      const unsubscribe = twin.sim.cloudwatch.onStateChange((e) => {
        if (!alarm && e.detail.state.value === 'ALARM' && env.alarms.includes(e.detail.alarmName)) {
          alarm = { name: e.detail.alarmName, real: performance.now(), sim: twin.clock.nowMs() };
        }
      });
      let watching = true;
      const watcher = (async () => {
        while (watching && !healthyAt) {
          if (alarm && healthyTg && twin.sim.elbv2.weights(routeArn(env.production))[healthyTg] === 100) {
            healthyAt = { real: performance.now(), sim: twin.clock.nowMs() };
          }
          await delay(2);
        }
      })();
      const badArn = await pushRelease('v3', `bench run ${run}: bad release`);
      const bad = await twin.sfn.waitForExecution(badArn);
      watching = false;
      await watcher;
      unsubscribe();

      const result: RunResult = {
        run,
        promotion: { status: good.status, ms: Math.round(promotionMs), sent: traffic.sent, serverErrors: traffic.serverErrors, failed: traffic.failed, transitions },
        rollback: {
          status: bad.status,
          error: bad.error,
          alarm: alarm?.name,
          alarmToHealthyMs: alarm && healthyAt ? Math.round(healthyAt.real - alarm.real) : undefined,
          alarmToHealthySimSeconds: alarm && healthyAt ? Math.round((healthyAt.sim - alarm.sim) / 100) / 10 : undefined,
        },
      };
      results.push(result);
      const p = result.promotion;
      const r = result.rollback;
      console.log(
        `  run ${String(run).padStart(2)}: promotion ${p.status} in ${(p.ms / 1000).toFixed(1)} s, ${p.sent} requests, ${p.serverErrors} 5xx, ${p.failed} failed, ${p.transitions} transitions` +
          ` | bad release ${r.status} (${r.error ?? '-'}): ${r.alarm ?? 'no alarm'} → 100% healthy in ${fmt(r.alarmToHealthyMs)} ms real / ${fmt(r.alarmToHealthySimSeconds, 1)} s simulated`,
      );
    }
    await load.stop();
    snapshotResults = await snapshotBench(twin, env, opts);
  } finally {
    await load.stop();
    const stats = twin.clock.holdStats();
    clockFigures = {
      realMs: Math.round(performance.now() - started),
      heldRealMs: Math.round(stats.heldRealMs),
      holds: stats.holds,
      byKind: Object.fromEntries(Object.entries(stats.byKind).map(([k, v]) => [k, { holds: v.holds, realMs: Math.round(v.realMs) }])),
      expired: stats.expired,
      warnings,
    };
    stopWarnings();
    await twin.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }

  const ok = summarize(results, snapshotResults, opts, clockFigures);
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ options: opts, runs: results, snapshots: snapshotResults, clock: clockFigures }, null, 2));
    console.log(`\nwrote ${opts.json}`);
  }
  return ok ? 0 : 1;
}

/** The target group that has 100% of production traffic now (undefined while split). */
function fullTargetGroup(twin: Twin<LiveEcs>, env: EnvironmentConfig): string | undefined {
  const weights = twin.sim.elbv2.weights(routeArn(env.production));
  return Object.entries(weights).find(([, w]) => w === 100)?.[0];
}

async function history(twin: Twin<LiveEcs>, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = twin.sfn.getExecutionHistory({ executionArn, maxResults: 1000, nextToken });
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Wait (real time, up to 2 min) until every alarm is OK: after a rollback the 5xx alarm recovers once periods pass without errors. */
async function waitAlarmsOk(names: readonly string[]): Promise<void> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    const out = await cloudWatchClient().send(new DescribeAlarmsCommand({ AlarmNames: [...names] }));
    const notOk = (out.MetricAlarms ?? []).filter((a) => a.StateValue === 'ALARM');
    if (notOk.length === 0) return;
    if (performance.now() > deadline) throw new Error(`Alarms still in ALARM after 2 minutes: ${notOk.map((a) => a.AlarmName).join(', ')}`);
    await delay(100);
  }
}

interface SnapshotResult {
  snapshot: string;
  /** pg_database_size of the source when snapshotted, bytes. */
  databaseBytes: number;
  /** Snapshot file (gzip tarball of the data directory), bytes. */
  fileBytes: number;
  /** Real ms the dump took in the database server. */
  dumpMs: number;
  /** Real ms from spawning the restored server until it accepted connections (loading the snapshot included). */
  restoreStartMs: number;
  /** Real ms from RestoreDBInstanceFromDBSnapshot until DescribeDBInstances said `available`. */
  restoreToAvailableMs: number;
  /** Whether the restored database has exactly the rows of the source. */
  rowsMatch: boolean;
}

/**
 * Grow the environment's database to about `dbMb` MB (a `bench_payload` table of 1 KB rows), then
 * snapshot and restore it `snapshots` times through the RDS API, reading the engine's timings.
 */
async function snapshotBench(twin: Twin<LiveEcs>, env: EnvironmentConfig, opts: BenchOptions): Promise<SnapshotResult[]> {
  const identifier = env.database?.instanceIdentifier;
  if (!identifier) throw new Error('The bench needs a DB instance in the sample config.');
  const url = twin.live.databaseUrl(identifier);
  console.log(`\nfilling ${identifier} to about ${opts.dbMb} MB …`);
  const rows = opts.dbMb * 1024;
  const sizeBytes = await withClient(url, async (c) => {
    await c.query('CREATE TABLE IF NOT EXISTS bench_payload (id bigint PRIMARY KEY, body text NOT NULL)');
    await c.query('TRUNCATE bench_payload');
    for (let from = 1; from <= rows; from += 8192) {
      const to = Math.min(rows, from + 8191);
      // md5 text does not compress away: the snapshot's gzip sees realistic data, not zeros.
      await c.query(`INSERT INTO bench_payload SELECT g, repeat(md5(g::text), 32) FROM generate_series($1::bigint, $2::bigint) g`, [from, to]);
    }
    await c.query('CHECKPOINT');
    const r = await c.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size');
    return Number(r.rows[0]!.size);
  });
  console.log(`  database size ${(sizeBytes / 1024 / 1024).toFixed(1)} MB (pg_database_size), bench_payload ${rows} rows of 1 KB`);
  const rds = rdsClient();
  const results: SnapshotResult[] = [];
  for (let i = 1; i <= opts.snapshots; i++) {
    const snapshotId = `bench-${i}-${Date.now()}`;
    await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: identifier, DBSnapshotIdentifier: snapshotId }));
    await until(async () => {
      const s = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId }))).DBSnapshots?.[0];
      if (s?.Status === 'failed') throw new Error(`Snapshot ${snapshotId} failed`);
      return s?.Status === 'available';
    });
    const restoreId = `bench-restore-${i}`;
    const t0 = performance.now();
    await rds.send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: restoreId, DBSnapshotIdentifier: snapshotId }));
    await until(async () => {
      const d = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: restoreId }))).DBInstances?.[0];
      if (d?.DBInstanceStatus === 'failed') throw new Error(`Restore ${restoreId} failed`);
      return d?.DBInstanceStatus === 'available';
    });
    const restoreToAvailableMs = performance.now() - t0;
    const restoredUrl = await twin.live.postgres.connectionUrl(restoreId, 'instance');
    const count = async (u: string) => withClient(u, async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM bench_payload')).rows[0]!.n));
    const rowsMatch = (await count(restoredUrl)) === rows;
    const metrics = twin.live.postgres.metrics();
    const snap = metrics.snapshots.find((s) => s.snapshot === snapshotId);
    const start = metrics.starts.find((s) => s.fromSnapshot === snapshotId);
    const result: SnapshotResult = {
      snapshot: snapshotId,
      databaseBytes: sizeBytes,
      fileBytes: snap?.bytes ?? 0,
      dumpMs: Math.round(snap?.ms ?? NaN),
      restoreStartMs: Math.round(start?.ms ?? NaN),
      restoreToAvailableMs: Math.round(restoreToAvailableMs),
      rowsMatch,
    };
    results.push(result);
    console.log(
      `  round trip ${i}: snapshot ${(result.fileBytes / 1024 / 1024).toFixed(1)} MB file, dump ${result.dumpMs} ms; restore ${result.restoreStartMs} ms to accept connections, ${result.restoreToAvailableMs} ms to "available"; rows ${rowsMatch ? 'match' : 'DO NOT MATCH'}`,
    );
  }
  return results;
}

/** Poll `check` every 50 ms (real) for up to 5 minutes. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 300_000;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('Timed out after 5 minutes');
    await delay(50);
  }
}

/** Print the summary; false when a run did not end as expected (promotion not SUCCEEDED, no alarm rollback, lost rows). */
function summarize(results: RunResult[], snapshots: SnapshotResult[], opts: BenchOptions, clock: ClockFigures): boolean {
  const promoted = results.filter((r) => r.promotion.status === 'SUCCEEDED');
  const rolledBack = results.filter((r) => r.rollback.error === 'Cutover.RolledBackOnAlarm' && r.rollback.alarmToHealthyMs !== undefined);
  const real = rolledBack.map((r) => r.rollback.alarmToHealthyMs!);
  const sim = rolledBack.map((r) => r.rollback.alarmToHealthySimSeconds!);
  const failed = results.reduce((n, r) => n + r.promotion.failed, 0);
  const errors = results.reduce((n, r) => n + r.promotion.serverErrors, 0);
  const sent = results.reduce((n, r) => n + r.promotion.sent, 0);
  const transitions = promoted.map((r) => r.promotion.transitions);
  const durations = promoted.map((r) => r.promotion.ms);
  const stat = (values: number[], digits = 0) => `p50 ${fmt(percentile(values, 50), digits)} · p95 ${fmt(percentile(values, 95), digits)} · max ${fmt(values.length ? Math.max(...values) : undefined, digits)}`;

  console.log(`\n== summary (${results.length} runs at ×${opts.timeScale})`);
  console.log(`alarm state change → 100% production on the healthy release (${rolledBack.length}/${results.length} runs rolled back on the alarm):`);
  console.log(`  real ms:            ${stat(real)}`);
  console.log(`  simulated seconds:  ${stat(sim, 1)}   (the twin's clock at ×${opts.timeScale}: Wait states and polls on the path; it stands still while real work holds it)`);
  console.log(`promotions under load (${promoted.length}/${results.length} SUCCEEDED): ${sent} requests, ${errors} 5xx, ${failed} failed`);
  console.log(`  duration real ms:   ${stat(durations)}`);
  console.log(`  state transitions per promotion (states entered, as Step Functions counts them): ${stat(transitions)}`);
  if (snapshots.length > 0) {
    const s0 = snapshots[0]!;
    console.log(`snapshot / restore of a ${(s0.databaseBytes / 1024 / 1024).toFixed(1)} MB database (${snapshots.length} round trips, files ${(s0.fileBytes / 1024 / 1024).toFixed(1)} MB gzip):`);
    console.log(`  snapshot dump ms:   ${stat(snapshots.map((s) => s.dumpMs))}`);
    console.log(`  restore start ms:   ${stat(snapshots.map((s) => s.restoreStartMs))}`);
    console.log(`  restore → "available" ms: ${stat(snapshots.map((s) => s.restoreToAvailableMs))}   (the RDS status also waits for the simulated restore duration)`);
  }
  const share = clock.realMs > 0 ? (100 * clock.heldRealMs) / clock.realMs : 0;
  console.log(
    `simulated clock held by real work: ${share.toFixed(0)}% of ${(clock.realMs / 1000).toFixed(0)} s real (${clock.holds} holds; ${clock.expired} released by their real-time bound${clock.expired ? ': see the ! lines' : ''})`,
  );
  const kinds = Object.entries(clock.byKind).sort((a, b) => b[1].realMs - a[1].realMs);
  console.log(`  by kind (real s, overlaps counted per kind): ${kinds.map(([k, v]) => `${k} ${(v.realMs / 1000).toFixed(1)} (${v.holds})`).join(' · ')}`);
  return promoted.length === results.length && rolledBack.length === results.length && failed === 0 && snapshots.every((s) => s.rowsMatch);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
