/**
 * Container processes for the living twin's ECS (lib/local/live/ecs.ts): what `docker run` does for
 * one container, done with a plain child process — argv, working directory, environment, stdout and
 * stderr appended to a log file — stopped the way the ECS agent stops a container (SIGTERM, then
 * SIGKILL after the container's stop timeout), plus dynamic host ports on loopback.
 *
 * Each container process leads its own process group (`detached`), so a signal reaches everything the
 * command started (a shell and its children), as stopping a container stops all of its processes.
 * Every container process is tracked (./reaper.ts `trackProcess`) from its spawn to its exit, so that
 * it does not outlive the twin: killed if the twin's process exits, stopped by the twin's reaper if
 * the twin is killed, and by the next start on the same state directory otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { trackProcess } from './reaper';

/** What to run for one container. */
export interface ContainerProcessSpec {
  /** Command and arguments; `argv[0]` is looked up on `env.PATH`. Must not be empty. */
  readonly argv: readonly string[];
  /** Absolute working directory. */
  readonly cwd: string;
  /** The whole environment of the process (nothing is inherited). */
  readonly env: Readonly<Record<string, string>>;
  /** File that receives stdout and stderr, appended to (its directory is created). */
  readonly logFile: string;
}

/** How a container process ended. */
export interface ContainerExit {
  /**
   * Exit code as ECS reports it: the process's own code, or 128 + the signal number when a signal ended
   * it (SIGTERM → 143, SIGKILL → 137). Undefined when the process never started.
   */
  readonly exitCode?: number;
  /** Why the process could not be started (spawn's error, e.g. `spawn nope ENOENT`); undefined once it ran. */
  readonly error?: string;
}

/** One running (or finished) container process. */
export class ContainerProcess {
  /** OS process id (also the process group id); undefined when the process could not be started. */
  readonly pid: number | undefined;
  /** Resolves once the process has exited (or failed to start); never rejects. */
  readonly exited: Promise<ContainerExit>;
  private done = false;

  private constructor(child: ChildProcess, spec: ContainerProcessSpec) {
    this.pid = child.pid;
    const untrack = this.pid === undefined ? () => undefined : trackProcess({ pid: this.pid, group: true, what: `container process ${spec.argv.join(' ')} (log ${spec.logFile})`, owner: spec.logFile });
    this.exited = new Promise<ContainerExit>((resolve) => {
      child.once('error', (err) => {
        // Only a failed start matters here; errors of a running process (a failed kill) are ignored.
        if (this.pid !== undefined) return;
        this.done = true;
        resolve({ error: err.message });
      });
      child.once('exit', (code, signal) => {
        this.done = true;
        // The container is gone: so is anything it left behind in its process group.
        this.killGroup('SIGKILL');
        untrack();
        resolve({ exitCode: code ?? 128 + (signal ? constants.signals[signal] : 0) });
      });
    });
  }

  /**
   * Start a container process. Never throws for a command that does not exist: {@link exited} then
   * resolves with `error` and {@link pid} is undefined.
   * @throws Error when `argv` is empty or the log file cannot be opened
   */
  static start(spec: ContainerProcessSpec): ContainerProcess {
    if (spec.argv.length === 0) throw new Error('ContainerProcess.start: argv must name a command');
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const log = openSync(spec.logFile, 'a');
    try {
      const child = spawn(spec.argv[0]!, spec.argv.slice(1), {
        cwd: spec.cwd,
        env: { ...spec.env },
        stdio: ['ignore', log, log],
        detached: true,
      });
      return new ContainerProcess(child, spec);
    } finally {
      closeSync(log); // the child holds its own copy
    }
  }

  /** True until the process has exited. */
  get running(): boolean {
    return !this.done && this.pid !== undefined;
  }

  /** Send `signal` to the container's process group; no-op once it has exited. */
  signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    if (this.running) this.killGroup(signal);
  }

  private killGroup(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }
}

/**
 * A free TCP port on 127.0.0.1, chosen by the OS (like Docker's dynamic host port for `hostPort: 0`).
 * @returns the port (1-65535); it is free when returned, not reserved
 */
export function allocatePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port assigned'))));
    });
  });
}
