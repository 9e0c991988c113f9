/**
 * The Lambda bundles as `cdk deploy` builds them (esbuild, ESM, minified, the SDK bundled, the same
 * module aliases as lib/constructs/cutover-function.ts): each function's size and how long a fresh
 * Node.js process takes to import it (median of 5, real milliseconds). Part of `npm run bench`; alone:
 * `npm run bench -- --bundles`. Goals (issue 11): ≤ 250 KB and ≤ 60 ms here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { FUNCTIONS, ROOT_DIR, functionEntry } from '../../lib/catalog';
import { ESM_REQUIRE_BANNER, LAMBDA_ESBUILD_ALIAS } from '../../lib/constructs/cutover-function';

export interface BundleFigure {
  readonly name: string;
  /** Bytes of the minified bundle (without its source map). */
  readonly bytes: number;
  /** Median real ms of `import()` of the bundle in a new process (module evaluation included). */
  readonly importMs: number;
}

/** Build every function's bundle and time its import. */
export async function measureBundles(runs = 5): Promise<BundleFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-bundles-'));
  try {
    const figures: BundleFigure[] = [];
    for (const spec of FUNCTIONS) {
      const outfile = join(dir, spec.name, 'index.mjs');
      await build({
        entryPoints: [functionEntry(spec.name)],
        bundle: true,
        platform: 'node',
        target: 'node22',
        format: 'esm',
        mainFields: ['module', 'main'],
        minify: true,
        banner: { js: ESM_REQUIRE_BANNER },
        alias: LAMBDA_ESBUILD_ALIAS,
        absWorkingDir: ROOT_DIR,
        outfile,
        logLevel: 'error',
      });
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = spawnSync(process.execPath, ['-e', `const t=performance.now();import(${JSON.stringify(outfile)}).then(()=>console.log(performance.now()-t))`], {
          encoding: 'utf8',
          env: { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' },
        });
        if (r.status !== 0) throw new Error(`importing the ${spec.name} bundle failed: ${r.stderr}`);
        times.push(Number(r.stdout.trim()));
      }
      times.sort((a, b) => a - b);
      figures.push({ name: spec.name, bytes: statSync(outfile).size, importMs: Math.round(times[Math.floor(times.length / 2)]!) });
    }
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Print the figures as a table with the goals. */
export function printBundles(figures: readonly BundleFigure[]): void {
  console.log('  Lambda bundles (goal ≤ 250 KB, import ≤ 60 ms here):');
  for (const f of figures) {
    const kb = f.bytes / 1024;
    console.log(`    ${f.name.padEnd(15)} ${kb.toFixed(0).padStart(4)} KB ${kb <= 250 ? '✔' : '✘'}   import ${String(f.importMs).padStart(4)} ms ${f.importMs <= 60 ? '✔' : '✘'}`);
  }
}
