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

/** Reads of the current time: `Date.now()`, `new Date()` without arguments, `performance.now()`. */
const CLOCK_READ = /\bDate\.now\(\)|new Date\(\)|performance\.now\(\)/g;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT_DIR, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** Clock reads in code (comments stripped), as `file:line`. */
function clockReads(file: string): string[] {
  const text = readFileSync(join(ROOT_DIR, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/\/\/.*$/gm, '');
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const _ of line.matchAll(CLOCK_READ)) found.push(`${relative(ROOT_DIR, join(ROOT_DIR, file))}:${i + 1}`);
  });
  return found;
}

describe('clock discipline', () => {
  it('lib/domain never reads the clock: every decision takes its time as an input', () => {
    const reads = sources('lib/domain').flatMap(clockReads);
    assert.deepEqual(reads, [], `clock reads in lib/domain (pass \`now\` in instead): ${reads.join(', ')}`);
  });

  it('each Lambda handler reads the clock at most once, and passes that time on', () => {
    for (const file of sources('lambdas').filter((f) => f.endsWith('handler.ts'))) {
      const reads = clockReads(file);
      assert.ok(reads.length <= 1, `${file} reads the clock ${reads.length} times (${reads.join(', ')}): read it once and pass it on`);
    }
  });

  it('finds a clock read when there is one (the check itself works)', () => {
    assert.equal('const t = Date.now(); new Date(); performance.now()'.match(CLOCK_READ)?.length, 3);
    assert.equal('new Date(event.time); Date.parse(x)'.match(CLOCK_READ), null);
  });
});
