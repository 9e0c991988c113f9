/**
 * `cutover local` as a separate process (`node --import tsx bin/cutover.ts local …`, the twin itself,
 * no npx or tsx CLI in between), judged from outside:
 *  - nothing is lost at start-up: a GitHub push delivered the moment the port opens is answered 2xx
 *    or 503 + Retry-After (never 500), and delivered again after Retry-After it deploys;
 *  - no process of the twin outlives it: after SIGTERM (a clean stop), Ctrl-C while it starts, `kill
 *    -9` (its reaper stops them), and when both the twin and its reaper were killed, the next start
 *    on the state directory stops what they left; a second twin on a directory in use is refused.
 * Processes are checked by pid and start time (lib/local/live/reaper.ts `processIdentity`).
 *
 * One state directory; the steps run in order (each later one resumes the saved account).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';
import { examplePush } from '../../lib/local/demo';
import { allocatePort } from '../../lib/local/live/process';
import { PROCESS_FILE, processIdentity, REAPER_LOG, type ProcessIdentity } from '../../lib/local/live/reaper';
import { LOCAL_WEBHOOK_SECRET } from '../../lib/local/twin';
import { writeTestAccount } from '../helpers/cli';
import { deliver, type HttpResult } from '../helpers/http';
import { ENVIRONMENT, SERVICE, sampleConfigJson } from '../helpers/twin';

/** Real time a twin process may take to be ready (a fresh start takes ~8 s on 2 idle cores). */
const READY_MS = 90_000;
/** How soon every process of a stopped or killed twin must be gone (the reaper's grace is 3 s). */
const GONE_MS = 10_000;

/** A running `cutover local` process and what it printed so far. */
interface TwinProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout: string;
  stderr: string;
  /** Resolves with the first match of `pattern` in stdout; rejects if the process exits first or after `ms`. */
  line(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const spawned: TwinProcess[] = [];

function startTwinProcess(args: string[]): TwinProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const name of ['CUTOVER_PORT', 'CUTOVER_GITHUB_WEBHOOK_SECRET', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/cutover.ts', 'local', ...args], { cwd: ROOT_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const t: TwinProcess = {
    child,
    pid: child.pid!,
    stdout: '',
    stderr: '',
    exited,
    line: (pattern, ms = READY_MS) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(t.stdout);
          if (!m) return false;
          cleanup();
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => (cleanup(), reject(new Error(`no ${pattern} within ${ms} ms in\n${t.stdout}\n${t.stderr}`))), ms);
        const onExit = () => check() || (cleanup(), reject(new Error(`the twin exited before printing ${pattern}:\n${t.stdout}\n${t.stderr}`)));
        const cleanup = () => {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          child.off('exit', onExit);
        };
        child.stdout!.on('data', check);
        child.once('exit', onExit);
        check();
      }),
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (t.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (t.stderr += d));
  spawned.push(t);
  return t;
}

/** Every descendant of `pid` now (children, their children…), with its identity. */
function descendants(pid: number): Map<number, ProcessIdentity> {
  const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out = new Map<number, ProcessIdentity>();
  const queue = [pid];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const [child, ppid] of table) {
      if (ppid !== parent || out.has(child)) continue;
      const id = processIdentity(child);
      if (id) out.set(child, id);
      queue.push(child);
    }
  }
  return out;
}

/** The processes of `procs` that are still the same processes (same pid and start time). */
function stillRunning(procs: Map<number, ProcessIdentity>): string[] {
  return [...procs].filter(([pid, id]) => processIdentity(pid)?.startTime === id.startTime).map(([pid, id]) => `${pid} ${id.command}`);
}

async function allGoneWithin(procs: Map<number, ProcessIdentity>, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  while (stillRunning(procs).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return stillRunning(procs);
}

const isTask = (id: ProcessIdentity) => id.command === 'node --import tsx server.ts';
const isPostgres = (id: ProcessIdentity) => id.command.includes('postgres/server.ts');
const isReaper = (id: ProcessIdentity) => id.command.includes('reaper-process.ts');

/** A Step Functions JSON 1.0 call over HTTP. */
async function sfn(url: string, operation: string, input: unknown): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AWSStepFunctions.${operation}` }, body: JSON.stringify(input) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** Resolves once something accepts a TCP connection on 127.0.0.1:`port` (tries every 5 ms). */
async function portOpen(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('e2e: the twin as a process — nothing lost at start-up, no process outlives it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-processes-'));
  const stateDir = join(dir, 'state');
  const push = examplePush();
  const repository = sampleConfigJson().services[SERVICE]!.environments[ENVIRONMENT]!.imageRepository as string;

  // The sample account, plus the pushed commit's image (CI would have pushed it): v2 of the sample app.
  const accountFile = writeTestAccount(dir);
  const account = JSON.parse(readFileSync(accountFile, 'utf8')) as { images: Record<string, unknown> };
  account.images[`${repository}:${push.after}`] = account.images[`${repository}:v2`];
  writeFileSync(accountFile, JSON.stringify(account, null, 2));
  // All at once without a bake, nobody asked about the database: the deployment takes seconds.
  const config = sampleConfigJson();
  Object.assign(config.services[SERVICE]!.environments[ENVIRONMENT]!, { strategy: { type: 'all-at-once', bakeSeconds: 0 }, databaseFailurePolicy: 'keep' });
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const twinArgs = (port = 0, state = stateDir) => ['--port', String(port), '--config', configFile, '--account', accountFile, '--state-dir', state, '--no-demo'];

  after(() => {
    // A failed step may leave a twin running: kill it (its reaper stops its processes).
    for (const t of spawned) if (t.child.exitCode === null && t.child.signalCode === null) t.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a push delivered the moment the port opens gets 503 + Retry-After (or 2xx), never 500; delivered again after Retry-After, it deploys; SIGTERM then stops every process of the twin', async () => {
    // Prepare
    const port = await allocatePort();
    const deliveryId = randomUUID();
    const send = () => deliver(`http://127.0.0.1:${port}`, { event: 'push', payload: push, secret: LOCAL_WEBHOOK_SECRET, deliveryId });

    // Act: GitHub delivers as soon as anything listens, then redelivers after each Retry-After.
    const twin = startTwinProcess(twinArgs(port));
    await portOpen(port, READY_MS);
    const first = await send();
    const early = await sfn(`http://127.0.0.1:${port}`, 'ListStateMachines', {});
    const answers: HttpResult[] = [first];
    while (answers.at(-1)!.status === 503 && answers.length < 60) {
      const retryAfter = Number(answers.at(-1)!.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `a 503 carries Retry-After in seconds, got ${answers.at(-1)!.headers.get('retry-after')}`);
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      answers.push(await send());
    }

    // Assess: the answers.
    assert.deepEqual(
      answers.filter((a) => a.status !== 503 && a.status !== 202).map((a) => `${a.status} ${a.text}`),
      [],
      'every answer is 503 (starting) or 202 (accepted), never a 500',
    );
    assert.equal(first.status, 503, `the first delivery, the moment the port opened, found the twin starting (${first.status} ${first.text})`);
    assert.equal(first.json?.status, 'starting');
    assert.ok(Array.isArray(first.json?.waitingFor) && (first.json.waitingFor as unknown[]).length > 0, `it says what it waits for: ${first.text}`);
    assert.equal(early.status, 503, 'the Step Functions API too, while the twin starts');
    assert.equal(early.body.__type, 'ServiceUnavailable');
    assert.equal(early.headers.get('x-amzn-errortype'), 'ServiceUnavailable');
    assert.ok(Number(early.headers.get('retry-after')) >= 1);
    const accepted = answers.at(-1)!;
    assert.equal(accepted.status, 202, accepted.text);
    const executionArn = String(accepted.json?.executionArn);
    assert.ok(executionArn.endsWith(`:${deliveryId}`), executionArn);
    assert.match(twin.stdout, new RegExp(`API on http://127\\.0\\.0\\.1:${port}: answers 503 with Retry-After until the twin is ready[\\s\\S]*cutover local twin on`));

    // Assess: it deploys.
    const url = `http://127.0.0.1:${port}`;
    let described: Record<string, unknown> = {};
    const deadline = Date.now() + 120_000;
    do {
      await new Promise((r) => setTimeout(r, 250));
      described = (await sfn(url, 'DescribeExecution', { executionArn })).body;
    } while (described.status === 'RUNNING' && Date.now() < deadline);
    assert.equal(described.status, 'SUCCEEDED', JSON.stringify(described));

    // Act: SIGTERM.
    const procs = descendants(twin.pid);
    assert.ok([...procs.values()].filter(isTask).length >= 2, `task processes run: ${[...procs.values()].map((p) => p.command).join('; ')}`);
    assert.ok([...procs.values()].some(isPostgres) && [...procs.values()].some(isReaper), 'a PostgreSQL server and the reaper run');
    twin.child.kill('SIGTERM');
    const exit = await twin.exited;

    // Assess: a clean stop, nothing left.
    assert.equal(exit.code, 143, `exit ${exit.code} (${exit.signal})\n${twin.stdout}\n${twin.stderr}`);
    assert.match(twin.stdout, /Got SIGTERM: stopping the twin/);
    assert.deepEqual(await allGoneWithin(procs, GONE_MS), [], 'no process of the twin remains');
    assert.equal(existsSync(join(stateDir, PROCESS_FILE)), false, 'a clean stop removes the process file');
  });

  it('Ctrl-C (SIGINT) while the twin starts stops it cleanly: exit 130, nothing it started remains', async () => {
    // Prepare: a fresh account of its own, interrupted while its database starts.
    const twin = startTwinProcess(twinArgs(0, join(dir, 'interrupted')));
    await twin.line(/starting PostgreSQL for instance/);
    // Its reaper was spawned before PostgreSQL; on a loaded machine its command line may not be read
    // yet (a child between fork and exec shows another one): look until it is (at most 5 s).
    let seen = descendants(twin.pid);
    for (let i = 0; i < 100 && ![...seen.values()].some(isReaper); i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = new Map([...seen, ...descendants(twin.pid)]);
    }

    // Act: every process it has until it exits is watched (the stop must not leave one started late).
    twin.child.kill('SIGINT');
    const watching = setInterval(() => descendants(twin.pid).forEach((id, pid) => seen.set(pid, id)), 50);
    const exit = await twin.exited;
    clearInterval(watching);

    // Assess
    assert.equal(exit.code, 130, `exit ${exit.code} (${exit.signal})\n${twin.stdout}\n${twin.stderr}`);
    assert.match(twin.stdout, /Got SIGINT: stopping the twin/);
    assert.doesNotMatch(twin.stdout, /cutover local twin on/, 'it never became ready');
    assert.ok([...seen.values()].some(isPostgres) && [...seen.values()].some(isReaper), [...seen.values()].map((p) => p.command).join('; '));
    assert.deepEqual(await allGoneWithin(seen, GONE_MS), [], 'no process it started remains');
  });

  it('kill -9 of the twin: its reaper stops its tasks and PostgreSQL server within seconds, and exits', async () => {
    // Prepare: the saved account resumes.
    const twin = startTwinProcess(twinArgs());
    await twin.line(/cutover local twin on http:\/\/127\.0\.0\.1:\d+/);
    const procs = descendants(twin.pid);
    assert.ok([...procs.values()].filter(isTask).length >= 2 && [...procs.values()].some(isPostgres) && [...procs.values()].some(isReaper), [...procs.values()].map((p) => p.command).join('; '));

    // Act
    twin.child.kill('SIGKILL');
    await twin.exited;

    // Assess
    assert.deepEqual(await allGoneWithin(procs, GONE_MS), [], 'no process of the twin remains, the reaper included');
    // Either of the reaper's two signs of the twin's end comes first: its pipe closing, or its poll of the pid.
    assert.match(
      readFileSync(join(stateDir, REAPER_LOG), 'utf8'),
      new RegExp(`reaper of twin ${twin.pid}: the twin (ended \\(its pipe closed\\)|\\(pid ${twin.pid}\\) is gone); stopped \\d+ of its process\\(es\\)`),
    );
  });

  it('a second twin on a state directory in use is refused; killed with its reaper, the twin leaves tasks that the next start stops', async () => {
    // Prepare
    const first = startTwinProcess(twinArgs());
    await first.line(/cutover local twin on http:\/\/127\.0\.0\.1:\d+/);

    // Act 1: another twin on the same directory.
    const second = startTwinProcess(twinArgs());
    const refused = await second.exited;

    // Assess 1
    assert.equal(refused.code, 1, second.stdout + second.stderr);
    assert.match(second.stderr, new RegExp(`Another cutover twin \\(pid ${first.pid}: .*\\) is running on the state directory ${stateDir}\\. Stop it first .*--state-dir`));
    assert.doesNotMatch(second.stderr, /^\s+at .+[(:]\d+/m, 'no stack trace');

    // Act 2: the reaper, then the twin, killed with -9.
    const procs = descendants(first.pid);
    const reaper = [...procs].find(([, id]) => isReaper(id))!;
    const tasks = new Map([...procs].filter(([, id]) => isTask(id)));
    const postgres = new Map([...procs].filter(([, id]) => isPostgres(id)));
    assert.ok(reaper && tasks.size >= 2 && postgres.size >= 1, [...procs.values()].map((p) => p.command).join('; '));
    process.kill(reaper[0], 'SIGKILL');
    assert.deepEqual(await allGoneWithin(new Map([reaper]), GONE_MS), []);
    first.child.kill('SIGKILL');
    await first.exited;

    // Assess 2: PostgreSQL stops by itself (its IPC channel closed); the tasks are left over.
    assert.deepEqual(await allGoneWithin(postgres, 12_000), [], 'the PostgreSQL server stopped when its twin died');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(stillRunning(tasks).length, tasks.size, 'with the reaper gone too, the tasks are left over');

    // Act 3: the next start on the directory.
    const next = startTwinProcess(twinArgs());
    await next.line(/cutover local twin on http:\/\/127\.0\.0\.1:\d+/);

    // Assess 3
    assert.deepEqual(stillRunning(tasks), [], 'the next start stopped what the dead twin left');
    assert.match(next.stdout, new RegExp(`stopped ${tasks.size} process\\(es\\) a previous twin \\(pid ${first.pid}, no longer running\\) left running: container process node --import tsx server\\.ts`));
    const nextProcs = descendants(next.pid);
    next.child.kill('SIGTERM');
    assert.equal((await next.exited).code, 143, next.stdout + next.stderr);
    assert.deepEqual(await allGoneWithin(nextProcs, GONE_MS), []);
  });
});
