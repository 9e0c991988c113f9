/**
 * Time is an input (DESIGN.md): decisions in lib/domain never read a clock, and each Lambda handler
 * reads it at most once (the time AWS gives it where there is one), passing it on. This test reads
 * the source, so a new `Date.now()` in a decision fails here — not on some later day in production.
 * (CI also runs the unit and state-machine tests with the clock 400 days ahead.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';

/** Reads of the system clock: `Date.now()`, `new Date()` without arguments, `performance.now()`. */
const CLOCK_READ = /\bDate\.now\(\)|new Date\(\)|performance\.now\(\)/g;
/** Reads of the runtime's clock (lib/aws/clock.ts: the system clock on AWS, simulated in the twin). */
const RUNTIME_CLOCK_READ = /\bclockNow\(\)/g;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT_DIR, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** Clock reads (`pattern`) in code (comments stripped), as `file:line`. */
function clockReads(file: string, pattern = CLOCK_READ): string[] {
  const text = readFileSync(join(ROOT_DIR, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/\/\/.*$/gm, '');
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const _ of line.matchAll(pattern)) found.push(`${relative(ROOT_DIR, join(ROOT_DIR, file))}:${i + 1}`);
  });
  return found;
}

describe('clock discipline', () => {
  it('lib/domain never reads the clock: every decision takes its time as an input', () => {
    const reads = sources('lib/domain').flatMap((f) => [...clockReads(f), ...clockReads(f, RUNTIME_CLOCK_READ)]);
    assert.deepEqual(reads, [], `clock reads in lib/domain (pass \`now\` in instead): ${reads.join(', ')}`);
  });

  it('each Lambda handler reads the runtime clock (clockNow) at most once, and never the system clock directly', () => {
    for (const file of sources('lambdas').filter((f) => f.endsWith('.ts'))) {
      const system = clockReads(file);
      assert.deepEqual(system, [], `${file} reads the system clock (${system.join(', ')}): use clockNow() from lib/aws/clock.ts, once`);
      const reads = clockReads(file, RUNTIME_CLOCK_READ);
      assert.ok(reads.length <= 1, `${file} reads the clock ${reads.length} times (${reads.join(', ')}): read it once and pass it on`);
    }
  });

  it('finds a clock read when there is one (the check itself works)', () => {
    assert.equal('const t = Date.now(); new Date(); performance.now()'.match(CLOCK_READ)?.length, 3);
    assert.equal('new Date(event.time); Date.parse(x)'.match(CLOCK_READ), null);
  });
});
