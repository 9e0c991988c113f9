/**
 * The sample application's migration command (`npm run migrate`, run by the deployment as a one-off
 * ECS task of the new image).
 *
 * Environment: `DATABASE_URL` (postgres://…) and `APP_VERSION` (v1 … v4). Applies, with node-pg-migrate,
 * the pending migrations among the files the release carries (its own and earlier releases', see
 * `releaseMigrations`), all in one transaction: either every pending migration is applied or none is.
 *
 * Exit status: 0 when the database is at the release's schema (prints what it applied, or that nothing
 * was pending); 1 when a migration failed (prints the database's error message on stderr; the
 * transaction was rolled back); 1 with a one-line message on a missing or malformed variable.
 */
import pg from 'pg';
import { runner, type RunnerOption } from 'node-pg-migrate';
import { readAppVersion, readDatabaseUrl } from './env';
import { MIGRATIONS_DIR, MIGRATIONS_TABLE, releaseMigrationFiles, releaseMigrations } from './releases';

/** Regex source matching every file name except `<name>.sql` for the given names (node-pg-migrate anchors it with ^…$). */
function ignoreAllBut(names: readonly string[]): string {
  const escaped = names.map((n) => `${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.sql`);
  return names.length === 0 ? '.*' : `(?!(?:${escaped.join('|')})$).*`;
}

/** One readable line for an error of pg or node-pg-migrate (pg's connect errors may be AggregateErrors with an empty message). */
function errorText(error: unknown): string {
  if (error instanceof pg.DatabaseError) {
    return `${error.message} (SQLSTATE ${error.code ?? 'unknown'})`;
  }
  if (error instanceof AggregateError && !error.message) {
    return error.errors.map((e: unknown) => errorText(e)).join('; ');
  }
  return error instanceof Error ? error.message || error.name : String(error);
}

async function main(): Promise<number> {
  let version: string;
  let databaseUrl: string;
  let files: string[];
  try {
    version = readAppVersion();
    databaseUrl = readDatabaseUrl();
    files = releaseMigrationFiles(version);
  } catch (error) {
    process.stderr.write(`sample-app migrate: ${(error as Error).message}\n`);
    return 1;
  }
  const carried = releaseMigrations(version);
  const tag = `migrate ${version}`;
  process.stdout.write(`${tag}: release carries ${carried.length} migration(s): ${carried.join(', ') || '(none)'}\n`);

  const options: RunnerOption = {
    databaseUrl,
    dir: MIGRATIONS_DIR,
    // Only this release's files: a release never applies a later release's migrations.
    ignorePattern: ignoreAllBut(carried),
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    singleTransaction: true,
    checkOrder: true,
    logger: {
      info: (msg: string) => process.stdout.write(`${tag}: ${msg}\n`),
      warn: (msg: string) => process.stderr.write(`${tag}: ${msg}\n`),
      error: (msg: string) => process.stderr.write(`${tag}: ${msg}\n`),
    },
  };
  try {
    const applied = await runner(options);
    if (applied.length === 0) {
      process.stdout.write(`${tag}: nothing pending; the database has all ${files.length} migration(s) of this release\n`);
    } else {
      process.stdout.write(`${tag}: applied ${applied.map((m) => m.name).join(', ')}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(
      `${tag}: FAILED, no migration of this run was applied (the transaction was rolled back): ${errorText(error)}\n`,
    );
    return 1;
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  // Not expected: main() reports its own failures. Still one line and a non-zero status.
  process.stderr.write(`sample-app migrate: ${errorText(error)}\n`);
  process.exitCode = 1;
}
