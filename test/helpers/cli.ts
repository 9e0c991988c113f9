/**
 * Test helper: the `cutover` CLI as a user runs it (`npx tsx bin/cutover.ts …` in a child process), and
 * a copy of the sample twin account that a child process can use from any directory.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';
import { SAMPLE_ACCOUNT_FILE } from './twin';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `npx tsx bin/cutover.ts <args>` in the repository root, without the test runner's loader, flags
 * or the twin's environment overrides; SIGKILLed after `timeoutMs` real milliseconds.
 */
export function runCutover(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  // Not the test runner's loader / flags, and a child node must not think it is a test runner's child.
  for (const name of ['CUTOVER_PORT', 'CUTOVER_GITHUB_WEBHOOK_SECRET', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[name];
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npx', ['tsx', 'bin/cutover.ts', ...args], { cwd: ROOT_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
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
