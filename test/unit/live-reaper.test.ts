/**
 * No process outlives the twin (lib/local/live/reaper.ts): a tracked container dies with its
 * process however it exits; the reaper process stops what its twin recorded once the twin's pipe
 * closes; a start on a state directory stops what a dead twin left there — only processes that are
 * provably the recorded ones — and refuses a directory a running twin uses; a PostgreSQL server
 * stops when its IPC channel to the twin closes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT_DIR } from '../../lib/catalog';
import { bootId, PROCESS_FILE, ProcessGuard, processIdentity, StateDirInUseError } from '../../lib/local/live/reaper';

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const FIXTURE = fileURLToPath(new URL('./fixtures/container-then-exit.ts', import.meta.url));
const REAPER = join(ROOT_DIR, 'lib/local/live/reaper-process.ts');
const POSTGRES_SERVER = join(ROOT_DIR, 'lib/local/live/postgres/server.ts');

/** A `sleep 600` of its own: in its own process group with `group`. */
function sleeper(group = false): ChildProcess {
  const child = spawn('sleep', ['600'], { detached: group, stdio: 'ignore' });
  started.push(child);
  return child;
}
const started: ChildProcess[] = [];

/** Resolves true once `pid` is no longer the process it was (gone, or only a zombie), false after `ms`. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (processIdentity(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

describe('no process outlives the twin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-reaper-'));
  after(() => {
    for (const c of started) if (c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  });

  for (const how of ['exit', 'throw'] as const) {
    it(`a container process dies with the twin's process when it ends by ${how === 'exit' ? 'process.exit()' : 'an uncaught exception'}`, async () => {
      // Act
      const child = spawn(process.execPath, ['--import', TSX_LOADER, FIXTURE, how], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_OPTIONS: '', NODE_TEST_CONTEXT: '' } });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const [code] = (await once(child, 'exit')) as [number | null];

      // Assess
      const pid = Number(out.trim());
      assert.ok(pid > 0, `the fixture printed the container's pid: ${JSON.stringify(out)}`);
      assert.notEqual(code, null);
      assert.ok(await goneWithin(pid, 2000), `container process ${pid} is gone once its twin process ended (${how})`);
    });
  }

  it('the reaper process stops the recorded processes (whole process groups) when its pipe closes, and not those recorded as gone', async () => {
    // Prepare
    const container = sleeper(true);
    const removed = sleeper(true);
    const reaper = spawn(process.execPath, ['--import', TSX_LOADER, REAPER, '--twin-pid', String(process.pid), '--grace-ms', '500'], { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    reaper.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const add = (c: ChildProcess, what: string) =>
      reaper.stdin!.write(`${JSON.stringify({ op: 'add', process: { pid: c.pid, group: true, what, ...processIdentity(c.pid!) } })}\n`);
    add(container, 'container A');
    add(removed, 'container B');
    reaper.stdin!.write(`${JSON.stringify({ op: 'remove', pid: removed.pid })}\n`);

    // Act: the twin's end of the pipe closes (as when the twin dies).
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(processIdentity(container.pid!), 'the container runs while the pipe is open');
    reaper.stdin!.end();
    const [code] = (await once(reaper, 'exit')) as [number | null];

    // Assess
    assert.equal(code, 0, stderr);
    assert.ok(await goneWithin(container.pid!, 1000), 'the recorded container was stopped');
    assert.ok(processIdentity(removed.pid!), 'a process recorded as gone is left alone');
    assert.match(stderr, /reaper of twin \d+: the twin ended \(its pipe closed\); stopped 1 of its process\(es\): container A \(pid \d+, SIGTERM\)/);
  });

  it('a start on the state directory stops what a dead twin left, and only processes that are provably the recorded ones', async () => {
    // Prepare: a dead "twin" (a pid that exited) whose file lists a live leftover, a live process with
    // another start time (a recycled pid) and one with another command line.
    const stateDir = join(dir, 'leftovers');
    mkdirSync(stateDir, { recursive: true });
    const gone = spawn('true');
    await once(gone, 'exit');
    const leftover = sleeper(true);
    const recycled = sleeper();
    const otherCommand = sleeper();
    const id = (c: ChildProcess) => processIdentity(c.pid!)!;
    writeFileSync(
      join(stateDir, PROCESS_FILE),
      JSON.stringify({
        version: 1,
        note: 'test',
        bootId: bootId(),
        twin: { pid: gone.pid, startTime: '1', command: 'node bin/cutover.ts local' },
        processes: [
          { pid: leftover.pid, group: true, what: 'task left behind', ...id(leftover) },
          { pid: recycled.pid, group: false, what: 'recycled pid', command: id(recycled).command, startTime: `${id(recycled).startTime}0` },
          { pid: otherCommand.pid, group: false, what: 'another command now', startTime: id(otherCommand).startTime, command: 'node server.ts' },
        ],
      }),
    );

    // Act
    const guard = await ProcessGuard.acquire(stateDir, { graceMs: 500 });

    // Assess
    assert.deepEqual(guard.report.reaped.map((p) => [p.pid, p.what]), [[leftover.pid, 'task left behind']]);
    assert.equal(guard.report.previousTwin?.pid, gone.pid);
    assert.ok(await goneWithin(leftover.pid!, 500), 'the leftover was stopped');
    assert.ok(processIdentity(recycled.pid!), 'a pid with another start time is not the recorded process: left alone');
    assert.ok(processIdentity(otherCommand.pid!), 'a pid with another command line is left alone');
  });

  it('a state directory whose twin is still running is refused, naming its pid and --state-dir', async () => {
    // Prepare: a running process recorded as the twin.
    const stateDir = join(dir, 'in-use');
    mkdirSync(stateDir, { recursive: true });
    const running = sleeper();
    const task = sleeper(true);
    writeFileSync(
      join(stateDir, PROCESS_FILE),
      JSON.stringify({
        version: 1,
        note: 'test',
        bootId: bootId(),
        twin: { pid: running.pid, ...processIdentity(running.pid!) },
        processes: [{ pid: task.pid, group: true, what: 'its task', ...processIdentity(task.pid!) }],
      }),
    );

    // Act / Assess
    await assert.rejects(ProcessGuard.acquire(stateDir), (err: Error) => {
      assert.ok(err instanceof StateDirInUseError, String(err));
      assert.equal(err.pid, running.pid);
      assert.match(err.message, new RegExp(`Another cutover twin \\(pid ${running.pid}: sleep 600\\) is running on the state directory`));
      assert.match(err.message, /--state-dir/);
      return true;
    });
    assert.ok(processIdentity(task.pid!), "the running twin's task is left alone");
  });

  it('an active guard writes the process file with its reaper, refuses a second twin of the same process, and removes the file when closed', async () => {
    // Prepare
    const stateDir = join(dir, 'active');
    const guard = await ProcessGuard.acquire(stateDir);

    // Act
    guard.activate();
    const file = JSON.parse(readFileSync(join(stateDir, PROCESS_FILE), 'utf8')) as { twin: { pid: number; startTime: string }; reaper: { pid: number } };
    const second = ProcessGuard.acquire(stateDir);
    await assert.rejects(second, StateDirInUseError);
    const reaperPid = guard.reaperPid!;
    await guard.close();

    // Assess
    assert.equal(file.twin.pid, process.pid);
    assert.equal(file.twin.startTime, processIdentity(process.pid)!.startTime);
    assert.equal(file.reaper.pid, reaperPid);
    assert.ok(await goneWithin(reaperPid, 5000), 'the reaper exits once its guard closed');
    assert.throws(() => readFileSync(join(stateDir, PROCESS_FILE)), /ENOENT/, 'the process file is removed after a clean stop');
  });

  it('a PostgreSQL server stops when its IPC channel to the twin closes', async () => {
    // Prepare
    const dataDir = join(dir, 'pg');
    const server = spawn(process.execPath, ['--import', TSX_LOADER, POSTGRES_SERVER, '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    started.push(server);
    const [ready] = (await once(server, 'message')) as [{ type: string }];
    assert.equal(ready.type, 'ready');

    // Act: the channel closes, as when the twin is killed.
    server.disconnect();
    const [code] = (await once(server, 'exit')) as [number | null];

    // Assess
    assert.equal(code, 0, 'a clean stop');
  });
});
