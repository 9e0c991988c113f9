/**
 * The sample application's releases v1–v4 and the twin's container images of them.
 *
 * One source tree serves every release: `APP_VERSION` (the image's ENV) selects the behaviour of
 * `server.ts` and the migration files `migrate.ts` applies. A release's image carries the migrations of
 * that release and of every earlier one — never a later release's files — which is what
 * {@link releaseMigrations} returns.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalImage } from '../live/types';

/** A release of the sample application. */
export type ReleaseVersion = 'v1' | 'v2' | 'v3' | 'v4';

/** What a release is and which migrations it introduces. */
export interface SampleRelease {
  /** `v1` … `v4`; the image tag and the `APP_VERSION` value. */
  readonly version: ReleaseVersion;
  /** One line: what the release changes and how a deployment of it ends. */
  readonly description: string;
  /**
   * Names of the migrations this release introduces (file names in `migrations/` without `.sql`, as
   * node-pg-migrate records them in `pgmigrations.name`). Empty when the release has no schema change.
   */
  readonly migrations: readonly string[];
}

/** The releases, oldest first. */
export const RELEASES: readonly SampleRelease[] = [
  {
    version: 'v1',
    description: 'creates the orders table; POST /orders and GET /orders/count',
    migrations: ['0001_create_orders'],
  },
  {
    version: 'v2',
    description:
      'adds orders.priority (expand-only: nullable add, backfill, default, NOT NULL) so v1 keeps working; promoted with zero failed requests',
    migrations: ['0002_orders_priority'],
  },
  {
    version: 'v3',
    description:
      'bad release, no migration: every 3rd non-health request answers 500 while /health stays 200; the 5xx alarm rolls it back',
    migrations: [],
  },
  {
    version: 'v4',
    description:
      'migration adds orders.customer_id, then fails on a missing customers table; the transaction rolls back and the schema stays as v2 left it',
    migrations: ['0003_orders_customer'],
  },
];

/** Absolute path of the sample application's directory (the images' working directory). */
export const SAMPLE_APP_DIR: string = fileURLToPath(new URL('.', import.meta.url)).replace(/[\\/]$/, '');

/** Absolute path of the migration files (`<name>.sql`, node-pg-migrate's SQL format). */
export const MIGRATIONS_DIR: string = join(SAMPLE_APP_DIR, 'migrations');

/** Table where node-pg-migrate records applied migrations (its CLI default). */
export const MIGRATIONS_TABLE = 'pgmigrations';

/** Argv of the containers' default command (the image's CMD): the HTTP server. */
export const START_COMMAND: readonly string[] = ['node', '--import', 'tsx', 'server.ts'];

/** Argv of the migration command, as the cutover config names it (run with cwd {@link SAMPLE_APP_DIR}). */
export const MIGRATE_COMMAND: readonly string[] = ['npm', 'run', 'migrate'];

/**
 * Whether `value` names a release.
 * @param value e.g. an `APP_VERSION` value
 */
export function isReleaseVersion(value: string): value is ReleaseVersion {
  return RELEASES.some((r) => r.version === value);
}

/**
 * The release named `version`.
 * @param version `v1` … `v4`
 * @throws Error naming the valid versions when `version` is not one of them
 */
export function release(version: string): SampleRelease {
  const found = RELEASES.find((r) => r.version === version);
  if (!found) {
    throw new Error(
      `APP_VERSION must be one of ${RELEASES.map((r) => r.version).join(', ')}, got ${JSON.stringify(version)}`,
    );
  }
  return found;
}

/**
 * Migration names an image of `version` carries: its own and every earlier release's, oldest first.
 * Never a later release's (v2 does not carry v4's `0003_orders_customer`).
 * @param version `v1` … `v4`
 * @throws Error when `version` is not a release (see {@link release})
 */
export function releaseMigrations(version: string): string[] {
  const target = release(version);
  const names: string[] = [];
  for (const r of RELEASES) {
    names.push(...r.migrations);
    if (r === target) break;
  }
  return names;
}

/**
 * Absolute paths of the migration files an image of `version` carries (see {@link releaseMigrations}).
 * @param version `v1` … `v4`
 * @throws Error when `version` is not a release, or a listed migration has no file in {@link MIGRATIONS_DIR}
 */
export function releaseMigrationFiles(version: string): string[] {
  return releaseMigrations(version).map((name) => {
    const file = join(MIGRATIONS_DIR, `${name}.sql`);
    if (!existsSync(file)) {
      throw new Error(`release ${version} lists migration ${name}, but ${file} does not exist: add the file or fix RELEASES`);
    }
    return file;
  });
}

/**
 * The twin's container images of the sample application, for its image registry
 * ({@link ImageRegistry.resolve}).
 * @param repository image repository name, e.g. `sample-app` or an ECR-style `123456789012.dkr.ecr.us-east-1.amazonaws.com/sample-app`
 * @returns `${repository}:v1` … `${repository}:v4` → the server command ({@link START_COMMAND}), cwd
 *   {@link SAMPLE_APP_DIR} and ENV `{ APP_VERSION }`. The task definition must still give `DATABASE_URL`,
 *   and the live ECS `PORT` (the task's host port).
 * @throws Error when `repository` is empty or contains a tag or digest separator (`:`after the last `/`, or `@`)
 */
export function sampleImages(repository: string): Record<string, LocalImage> {
  const lastSegment = repository.slice(repository.lastIndexOf('/') + 1);
  if (repository.length === 0 || lastSegment.includes(':') || repository.includes('@')) {
    throw new Error(
      `sampleImages repository must be a repository name without tag or digest (e.g. "sample-app"), got ${JSON.stringify(repository)}`,
    );
  }
  const images: Record<string, LocalImage> = {};
  for (const r of RELEASES) {
    images[`${repository}:${r.version}`] = {
      command: START_COMMAND,
      cwd: SAMPLE_APP_DIR,
      environment: { APP_VERSION: r.version },
    };
  }
  return images;
}
