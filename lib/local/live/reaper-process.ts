/**
 * The reaper: a small detached process per living twin (started by {@link ProcessGuard.activate},
 * ./reaper.ts) that stops the twin's task and PostgreSQL processes when the twin ends without
 * stopping them — `kill -9`, a crash, a test runner killing it.
 *
 *   node --import tsx reaper-process.ts --twin-pid <pid> [--grace-ms 3000]
 *
 * stdin is a pipe from the twin: one JSON message per line, `{"op":"add","process":{pid, group,
 * what, startTime, command}}` when the twin starts a process and `{"op":"remove","pid":n}` when it is
 * gone. When stdin ends (the twin's end of the pipe closed: the twin exited, however), or the twin's
 * pid stops being the twin (checked every second, in case something else still holds the pipe), the
 * reaper stops every process still recorded — SIGTERM to its process group (a container) or to it,
 * SIGKILL after the grace period, each only if it is still the recorded process (start time) — says
 * what it did on stderr (the state directory's reaper.log) and exits 0. After a clean stop the list
 * is empty and it just exits.
 *
 * It ignores SIGINT, SIGHUP and SIGTERM: it exits when its twin does (a terminal's Ctrl-C or hang-up,
 * or a SIGTERM sent to every process of a tree, is the twin's to handle — a reaper that went first
 * could not stop the twin's processes if the twin is then killed). Only SIGKILL ends it sooner.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { processIdentity, reapProcesses, type TrackedProcess } from './reaper';

type Message = { op: 'add'; process: TrackedProcess } | { op: 'remove'; pid: number };

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'twin-pid': { type: 'string' }, 'grace-ms': { type: 'string' } } });
  const twinPid = Number(values['twin-pid']);
  const graceMs = Number(values['grace-ms'] ?? 3000);
  if (!Number.isInteger(twinPid) || twinPid <= 0) throw new Error(`--twin-pid must be the twin's pid, got ${values['twin-pid']}`);
  if (!(graceMs >= 0)) throw new Error(`--grace-ms must be real milliseconds >= 0, got ${values['grace-ms']}`);
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.on(signal, () => undefined);

  const twin = processIdentity(twinPid);
  const recorded = new Map<number, TrackedProcess>();
  let reaping = false;
  const reap = async (why: string): Promise<void> => {
    if (reaping) return;
    reaping = true;
    const left = [...recorded.values()];
    if (left.length > 0) {
      const done = await reapProcesses(left, { strict: false, graceMs });
      const line = done.map((p) => `${p.what} (pid ${p.pid}, ${p.signal})`).join('; ');
      process.stderr.write(`${new Date().toISOString()} reaper of twin ${twinPid}: ${why}; stopped ${done.length} of its process(es)${line ? `: ${line}` : ''}\n`);
    }
    process.exit(0);
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    try {
      const msg = JSON.parse(line) as Message;
      if (msg.op === 'add' && Number.isInteger(msg.process?.pid)) recorded.set(msg.process.pid, msg.process);
      else if (msg.op === 'remove') recorded.delete(msg.pid);
    } catch {
      // not a message of the twin's: ignore
    }
  });
  lines.on('close', () => void reap('the twin ended (its pipe closed)'));
  const watch = setInterval(() => {
    const now = processIdentity(twinPid);
    if (!now || (twin && now.startTime !== twin.startTime)) void reap(`the twin (pid ${twinPid}) is gone`);
  }, 1000);
  watch.unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`reaper: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
