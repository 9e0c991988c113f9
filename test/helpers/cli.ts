/**
 * Test helper: the `cutover` CLI as a user runs it (`npx tsx bin/cutover.ts …` in a child process), and
 * a copy of the sample twin account that a child process can use from any directory.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';
import { processIdentity } from '../../lib/local/live/reaper';
import { SAMPLE_ACCOUNT_FILE } from './twin';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `pid` and every process below it (npx → sh → tsx → the twin, and the twin's children), with their
 * depth below `pid`. Empty when `ps` is not available.
 */
function processTree(pid: number): Array<{ pid: number; depth: number }> {
  let table: Array<[number, number]>;
  try {
    table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  } catch {
    return [];
  }
  const out: Array<{ pid: number; depth: number }> = [];
  const visit = (p: number, depth: number) => {
    out.push({ pid: p, depth });
    for (const [child, parent] of table) if (parent === p) visit(child, depth + 1);
  };
  visit(pid, 0);
  return out;
}

/**
 * Run `npx tsx bin/cutover.ts <args>` in the repository root, without the test runner's loader, flags
 * or the twin's environment overrides (`extraEnv` is added, e.g. `AWS_ACCESS_KEY_ID`). After `timeoutMs` real milliseconds the twin (the deepest
 * process running bin/cutover.ts) gets SIGTERM and stops cleanly — killing npx alone would leave tsx
 * and the twin running — and 10 s later the chain npx → sh → tsx → twin gets SIGKILL (the twin's
 * reaper then stops its tasks).
 */
export function runCutover(args: string[], timeoutMs = 120_000, extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extraEnv };
  // Not the test runner's loader / flags, and a child node must not think it is a test runner's child.
  for (const name of ['CUTOVER_PORT', 'CUTOVER_GITHUB_WEBHOOK_SECRET', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[name];
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npx', ['tsx', 'bin/cutover.ts', ...args], { cwd: ROOT_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const signal = (procs: Array<{ pid: number; startTime?: string }>, sig: NodeJS.Signals) => {
      for (const { pid, startTime } of procs) {
        // Only the process seen then (not a later one with its pid).
        if (processIdentity(pid)?.startTime !== startTime) continue;
        try {
          process.kill(pid, sig);
        } catch {
          // already gone
        }
      }
    };
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      // The chain as it is now (once npx is gone, the rest is no longer below it).
      const chain = (child.pid ? processTree(child.pid) : [])
        .map((p) => ({ ...p, ...processIdentity(p.pid) }))
        .filter((p) => p.pid === child.pid || p.command?.includes('bin/cutover.ts'));
      const twin = chain.reduce<(typeof chain)[number] | undefined>((deepest, p) => (!deepest || p.depth > deepest.depth ? p : deepest), undefined);
      signal(twin ? [twin] : chain, 'SIGTERM');
      kill = setTimeout(() => signal(chain, 'SIGKILL'), 10_000);
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      clearTimeout(kill);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(kill);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/**
 * The sample twin account with absolute image directories and free listener ports (tests run side by
 * side), written to `<dir>/account.json`; returns that path.
 */
export function writeTestAccount(dir: string): string {
  const account = JSON.parse(readFileSync(SAMPLE_ACCOUNT_FILE, 'utf8')) as { images: Record<string, { cwd: string }>; listenerPorts: Record<string, number> };
  for (const image of Object.values(account.images)) image.cwd = resolve(dirname(SAMPLE_ACCOUNT_FILE), image.cwd);
  for (const arn of Object.keys(account.listenerPorts)) account.listenerPorts[arn] = 0;
  const out = join(dir, 'account.json');
  writeFileSync(out, JSON.stringify(account, null, 2));
  return out;
}

/** What a run printed on stderr, line by line, without npx's own `npm warn …` lines and blank lines. */
export function errorLines(r: CliResult): string[] {
  return r.stderr.split('\n').filter((line) => line.trim() !== '' && !/^npm (warn|notice)\b/i.test(line));
}
