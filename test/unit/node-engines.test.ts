/**
 * The Node.js version cutover says it needs agrees with package.json's `engines` and with what its
 * direct dependencies declare: a dependency that asks for more than our minimum must be named in the
 * README's Quick start (with why it still works), so `npm ci`'s EBADENGINE warning is never a surprise.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';

const pkg = JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const readme = readFileSync(join(ROOT_DIR, 'README.md'), 'utf8');

/** `>=20.19` / `>= 22.0.0` / `>=20` → [major, minor, patch]; undefined for other range forms. */
function minimum(range: string): [number, number, number] | undefined {
  const m = /^\s*>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(range);
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}
const above = (a: number[], b: number[]) => a[0]! !== b[0]! ? a[0]! > b[0]! : a[1]! !== b[1]! ? a[1]! > b[1]! : a[2]! > b[2]!;

describe('Node.js version', () => {
  const ours = minimum(pkg.engines.node);

  it('README states the minimum that package.json engines declares', () => {
    assert.ok(ours, `engines.node "${pkg.engines.node}" is a >= range`);
    const stated = /Node\.js (\d+\.\d+) or newer/.exec(readme)?.[1];
    assert.equal(stated, `${ours[0]}.${ours[1]}`, 'README Quick start: "Node.js <major.minor> or newer"');
  });

  it('every direct dependency that declares a higher minimum is named in the README with the EBADENGINE warning', () => {
    const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
    const higher = names.filter((name) => {
      const engines = (JSON.parse(readFileSync(join(ROOT_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines?.node;
      const theirs = engines ? minimum(engines) : undefined;
      return theirs !== undefined && above(theirs, ours!);
    });
    const note = readme.slice(readme.indexOf('or newer'), readme.indexOf('or newer') + 600);
    assert.match(note, /EBADENGINE/);
    for (const name of higher) assert.ok(note.includes(name), `${name} needs a newer Node.js than ${pkg.engines.node}: say so (and why cutover still works) in the README's Quick start`);
  });

  it('the polyfill the README names is installed on this Node.js', async () => {
    await import('../../lib/local/stepfunctions/polyfill');
    assert.equal(typeof (Promise as unknown as { withResolvers?: unknown }).withResolvers, 'function');
  });
});
