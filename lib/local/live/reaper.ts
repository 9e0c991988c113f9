/**
 * No process outlives the twin. The living twin starts processes that do not end with it on their
 * own: ECS tasks (arbitrary commands from the twin account, each leading its own process group,
 * ./process.ts) and PostgreSQL servers (./postgres/host.ts). Three layers make sure they go when the
 * twin goes, however it ends:
 *
 * 1. **In the twin's process**, every such child is tracked ({@link trackProcess}); when the process
 *    exits through `process.exit()` or an uncaught exception (Node's `exit` event), every tracked
 *    child still running is killed (SIGKILL to its process group) before the process is gone. A clean
 *    stop (Ctrl-C, SIGTERM: bin/cutover.ts) stops them properly first, so this only catches the rest.
 * 2. **A reaper process per twin** ({@link ProcessGuard}): a small detached process
 *    (./reaper-process.ts, its own session, so Ctrl-C in the terminal does not reach it) that holds a
 *    pipe from the twin and is told of every child started and gone. When the pipe closes — the twin
 *    ended, even by `kill -9`, which runs no code in the twin — it stops every child still recorded
 *    (SIGTERM to the process group, SIGKILL after {@link REAP_GRACE_MS}) and exits. PostgreSQL servers
 *    also stop on their own when their IPC channel to the twin closes.
 * 3. **The next start on the same state directory**: the twin keeps the list in
 *    `<stateDir>/twin-processes.json` ({@link PROCESS_FILE}); a twin starting there stops whatever is
 *    left of a twin that is gone (its reaper killed too, say). A process is only signalled when it
 *    is provably the one recorded: same boot (`/proc/sys/kernel/random/boot_id`), same start time
 *    and same command line — a recycled pid is never killed. If the recorded twin is still running,
 *    the new start is refused ({@link StateDirInUseError}): two twins must not share a state
 *    directory (its databases).
 *
 * Process identity is read from `/proc` on Linux and from `ps` elsewhere.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The state directory's list of the twin's processes (see the module documentation). */
export const PROCESS_FILE = 'twin-processes.json';
/** What the reaper process says it did, appended to `<stateDir>/<REAPER_LOG>`. */
export const REAPER_LOG = 'reaper.log';
/** Real milliseconds between SIGTERM and SIGKILL when leftover processes are stopped. */
export const REAP_GRACE_MS = 3000;

/** Who a process is, beyond its pid: what tells it apart from a later process with the same pid. */
export interface ProcessIdentity {
  /** When it started: `/proc/<pid>/stat` field 22 (clock ticks since boot) on Linux, `ps -o lstart` elsewhere. */
  readonly startTime: string;
  /** Its command line, arguments joined by spaces. */
  readonly command: string;
}

/** A child process the twin started that must not outlive it. */
export interface TrackedProcess extends Partial<ProcessIdentity> {
  /** OS process id. */
  readonly pid: number;
  /** True when it leads its own process group and is signalled as a whole (`kill(-pid)`): a container. */
  readonly group: boolean;
  /** What it is, for messages, e.g. `PostgreSQL server of database db-0ABC…`. */
  readonly what: string;
  /**
   * An absolute path under the state directory of the twin it belongs to (its log file, its data
   * directory): the twin's {@link ProcessGuard} records only its own processes.
   */
  readonly owner: string;
}

/** A process a reaper or a start stopped, or found already gone. */
export interface ReapedProcess {
  readonly pid: number;
  readonly what: string;
  /** `SIGTERM`: it stopped within the grace period; `SIGKILL`: it had to be killed. */
  readonly signal: 'SIGTERM' | 'SIGKILL';
}

/** What {@link ProcessGuard.acquire} found of a previous twin on the state directory. */
export interface ReapReport {
  /** The twin that wrote the process file (gone now), if there was a file. */
  readonly previousTwin?: { readonly pid: number; readonly command?: string };
  /** Its processes that were still running and were stopped. */
  readonly reaped: ReapedProcess[];
}

/** Thrown when another twin, still running, uses the state directory. */
export class StateDirInUseError extends Error {
  constructor(
    message: string,
    /** The pid of the running twin. */
    readonly pid: number,
  ) {
    super(message);
    this.name = 'StateDirInUseError';
  }
}

// ---------------------------------------------------------------- process identity

const LINUX = process.platform === 'linux';

/**
 * Who process `pid` is now, or undefined when there is no such process (or only its zombie).
 * Never throws.
 */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    if (LINUX) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces and parentheses; fields go on after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      return { startTime: fields[19]!, command };
    }
    const ps = (field: string) => execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (ps('stat').startsWith('Z')) return undefined;
    return { startTime: ps('lstart'), command: ps('command') };
  } catch {
    return undefined;
  }
}

/** This boot of the machine (Linux), so that a pid file from before a reboot names no process. */
export function bootId(): string | undefined {
  try {
    return LINUX ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is (still) the process `recorded` describes: same start time and, if recorded, command. */
function isSameProcess(pid: number, recorded: Partial<ProcessIdentity>, opts: { command: boolean }): boolean {
  const now = processIdentity(pid);
  if (!now || recorded.startTime === undefined || now.startTime !== recorded.startTime) return false;
  return !opts.command || recorded.command === undefined || now.command === recorded.command;
}

function signal(p: { pid: number; group: boolean }, sig: NodeJS.Signals): void {
  try {
    process.kill(p.group ? -p.pid : p.pid, sig);
  } catch {
    // ESRCH: already gone; EPERM: not ours to signal.
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Stop processes that must not run any more: SIGTERM to each (its process group for a group), then
 * SIGKILL to those still running after `graceMs`. Only a process that is provably the recorded one
 * is signalled (start time, and with `strict` the command line too); a group whose leader is gone is
 * signalled as a group only when not `strict` (right after the twin died, by its reaper).
 * @returns the processes signalled, with how they ended
 */
export async function reapProcesses(
  entries: readonly (Partial<ProcessIdentity> & { pid: number; group: boolean; what: string })[],
  opts: { strict: boolean; graceMs?: number },
): Promise<ReapedProcess[]> {
  const graceMs = opts.graceMs ?? REAP_GRACE_MS;
  const targets = entries.filter((e) => isSameProcess(e.pid, e, { command: opts.strict }) || (!opts.strict && e.group && !processIdentity(e.pid)));
  for (const t of targets) signal(t, 'SIGTERM');
  const alive = (t: (typeof targets)[number]) => isSameProcess(t.pid, t, { command: false });
  const deadline = Date.now() + graceMs;
  while (targets.some(alive) && Date.now() < deadline) await sleep(50);
  const killed = new Set(targets.filter(alive));
  for (const t of targets) if (killed.has(t) || t.group) signal(t, 'SIGKILL'); // a group's other members too
  const gone = Date.now() + 2000;
  while ([...killed].some(alive) && Date.now() < gone) await sleep(20);
  return targets.map((t) => ({ pid: t.pid, what: t.what, signal: killed.has(t) ? 'SIGKILL' : 'SIGTERM' }));
}

// ---------------------------------------------------------------- the twin process's own children

const tracked = new Map<number, TrackedProcess>();
const listeners = new Set<(change: 'add' | 'remove', p: TrackedProcess) => void>();
let exitHookInstalled = false;

/**
 * Record a child process that must not outlive this process (call right after spawning it). Reads
 * its identity now, tells every active {@link ProcessGuard} whose state directory holds `owner`, and
 * makes sure it is killed if this process exits while it still runs.
 * @returns untrack: call once the process has exited (idempotent)
 */
export function trackProcess(p: Omit<TrackedProcess, keyof ProcessIdentity>): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // `exit` listeners run synchronously as the process ends (process.exit, an uncaught exception).
    process.on('exit', () => killTrackedProcesses('SIGKILL'));
  }
  const entry: TrackedProcess = { ...p, ...processIdentity(p.pid) };
  tracked.set(p.pid, entry);
  for (const l of listeners) l('add', entry);
  return () => {
    if (tracked.get(p.pid) !== entry) return;
    tracked.delete(p.pid);
    for (const l of listeners) l('remove', entry);
  };
}

/**
 * Signal every tracked child still running, synchronously (a container's whole process group).
 * For a forced stop: the caller exits right after.
 * @returns how many were signalled
 */
export function killTrackedProcesses(sig: NodeJS.Signals = 'SIGKILL'): number {
  for (const p of tracked.values()) signal(p, sig);
  return tracked.size;
}

/** The tracked children still running (copies), oldest first. */
export function trackedProcesses(): TrackedProcess[] {
  return [...tracked.values()].map((p) => ({ ...p }));
}

// ---------------------------------------------------------------- the guard of one state directory

/** The content of {@link PROCESS_FILE}. */
interface ProcessFile {
  readonly version: 1;
  readonly note: string;
  readonly bootId?: string;
  readonly twin: { readonly pid: number } & Partial<ProcessIdentity>;
  readonly reaper?: { readonly pid: number } & Partial<ProcessIdentity>;
  readonly processes: Array<Partial<ProcessIdentity> & { pid: number; group: boolean; what: string }>;
}

const REAPER_ENTRY = fileURLToPath(new URL('./reaper-process.ts', import.meta.url));
/** tsx's loader as a file URL, so the reaper resolves it whatever its working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** State directories with an active guard in this process. */
const active = new Set<string>();

function readProcessFile(file: string): ProcessFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as ProcessFile;
    return parsed && parsed.version === 1 && parsed.twin && Array.isArray(parsed.processes) ? parsed : undefined;
  } catch {
    return undefined; // none, or unreadable: nothing can be verified from it
  }
}

/**
 * One twin's hold on its state directory: stops what a previous twin left there, refuses a directory
 * a running twin uses, keeps {@link PROCESS_FILE} up to date and runs the reaper process. Use:
 * `const guard = await ProcessGuard.acquire(dir)` (before anything in the directory is touched, e.g.
 * before `--reset` deletes it), then `guard.activate()` once the directory exists, and
 * `await guard.close()` after every process of the twin has stopped.
 */
export class ProcessGuard {
  /** Absolute state directory. */
  readonly stateDir: string;
  /** What was left of a previous twin on the directory, and stopped. */
  readonly report: ReapReport;
  private reaper?: ChildProcess;
  private reaperIdentity?: ProcessIdentity;
  private readonly mine = new Map<number, TrackedProcess>();
  private unsubscribe?: () => void;
  private closed = false;

  private constructor(stateDir: string, report: ReapReport) {
    this.stateDir = stateDir;
    this.report = report;
  }

  /** Absolute path of the directory's {@link PROCESS_FILE}. */
  get file(): string {
    return join(this.stateDir, PROCESS_FILE);
  }

  /** Pid of the reaper process while the guard is active. */
  get reaperPid(): number | undefined {
    return this.reaper?.pid;
  }

  /**
   * Take the state directory: stop the processes a previous twin left in it (verified by boot, start
   * time and command line; SIGTERM, SIGKILL after `graceMs`).
   * @param stateDir the twin's state directory (need not exist)
   * @throws StateDirInUseError when a twin that is still running (in this process or another) uses it
   */
  static async acquire(stateDir: string, opts: { graceMs?: number } = {}): Promise<ProcessGuard> {
    const dir = resolve(stateDir);
    if (active.has(dir)) {
      throw new StateDirInUseError(`Another twin in this process (pid ${process.pid}) uses the state directory ${dir}: stop it first, or use another state directory.`, process.pid);
    }
    const file = join(dir, PROCESS_FILE);
    const previous = existsSync(file) ? readProcessFile(file) : undefined;
    if (!previous) return new ProcessGuard(dir, { reaped: [] });
    const sameBoot = previous.bootId === undefined || previous.bootId === bootId();
    if (sameBoot && previous.twin.pid !== process.pid && isSameProcess(previous.twin.pid, previous.twin, { command: true })) {
      throw new StateDirInUseError(
        `Another cutover twin (pid ${previous.twin.pid}: ${previous.twin.command ?? 'unknown command'}) is running on the state directory ${dir}. ` +
          `Stop it first (Ctrl-C in its terminal, or kill ${previous.twin.pid}), or start this one with another --state-dir.`,
        previous.twin.pid,
      );
    }
    const reaped = sameBoot ? await reapProcesses(previous.processes, { strict: true, graceMs: opts.graceMs }) : [];
    return new ProcessGuard(dir, { previousTwin: { pid: previous.twin.pid, ...(previous.twin.command ? { command: previous.twin.command } : {}) }, reaped });
  }

  /**
   * Start guarding: create the directory, write {@link PROCESS_FILE}, start the reaper process and
   * record every process this process starts under the directory from now on.
   * @throws Error when the directory or the file cannot be written
   */
  activate(): void {
    if (this.closed) throw new Error(`The process guard of ${this.stateDir} is closed`);
    if (active.has(this.stateDir)) throw new StateDirInUseError(`Another twin in this process uses the state directory ${this.stateDir}.`, process.pid);
    mkdirSync(this.stateDir, { recursive: true });
    active.add(this.stateDir);
    const log = openSync(join(this.stateDir, REAPER_LOG), 'a');
    try {
      this.reaper = spawn(process.execPath, ['--import', TSX_LOADER, REAPER_ENTRY, '--twin-pid', String(process.pid), '--grace-ms', String(REAP_GRACE_MS)], {
        // Its own session: Ctrl-C in the twin's terminal (SIGINT to the foreground group) does not reach it.
        detached: true,
        stdio: ['pipe', 'ignore', log],
        // Not the twin's test runner or loader flags (it has its own loader).
        env: { ...process.env, NODE_OPTIONS: '', NODE_TEST_CONTEXT: '' },
      });
    } finally {
      closeSync(log);
    }
    this.reaper.on('error', () => undefined); // a reaper that cannot start leaves layers 1 and 3
    this.reaper.stdin!.on('error', () => undefined); // EPIPE when the reaper is gone
    // Neither the reaper nor its pipe keeps the twin's event loop alive.
    this.reaper.unref();
    (this.reaper.stdin as unknown as { unref?: () => void }).unref?.();
    if (this.reaper.pid) this.reaperIdentity = processIdentity(this.reaper.pid);
    const inside = (owner: string) => owner.startsWith(this.stateDir + sep);
    const onChange = (change: 'add' | 'remove', p: TrackedProcess) => {
      if (!inside(p.owner)) return;
      if (change === 'add') this.mine.set(p.pid, p);
      else this.mine.delete(p.pid);
      this.tell(change === 'add' ? { op: 'add', process: p } : { op: 'remove', pid: p.pid });
      this.write();
    };
    listeners.add(onChange);
    this.unsubscribe = () => listeners.delete(onChange);
    for (const p of tracked.values()) onChange('add', p);
    this.write();
  }

  /**
   * Stop guarding (after the twin stopped its processes): the reaper's pipe closes, so it stops
   * whatever is still recorded (nothing, after a clean stop) and exits; the process file is removed.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    active.delete(this.stateDir);
    try {
      if (this.mine.size === 0) rmSync(this.file, { force: true });
      else this.write();
    } catch {
      // the directory may be gone (a test removed it): nothing to keep up to date
    }
    this.reaper?.stdin?.end();
  }

  private tell(message: unknown): void {
    const stdin = this.reaper?.stdin;
    if (stdin && !stdin.destroyed) stdin.write(`${JSON.stringify(message)}\n`);
  }

  /** Write the process file (temp name, then rename: a reader never sees half a file). */
  private write(): void {
    if (this.closed && this.mine.size === 0) return;
    const me = processIdentity(process.pid);
    const content: ProcessFile = {
      version: 1,
      note: 'Processes of the cutover local twin that uses this state directory. A twin started here stops any of them still running (lib/local/live/reaper.ts).',
      ...(bootId() ? { bootId: bootId() } : {}),
      twin: { pid: process.pid, ...me },
      ...(this.reaper?.pid ? { reaper: { pid: this.reaper.pid, ...this.reaperIdentity } } : {}),
      processes: [...this.mine.values()].map(({ pid, group, what, startTime, command }) => ({ pid, group, what, startTime, command })),
    };
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(content, null, 2)}\n`);
    renameSync(temp, this.file);
  }
}
