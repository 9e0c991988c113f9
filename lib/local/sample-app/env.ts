/**
 * Fail-fast reading of the sample application's environment (`PORT`, `DATABASE_URL`, `APP_VERSION`).
 */
import { release, type ReleaseVersion } from './releases';

/** A missing or malformed environment variable; the message names the variable and the fix. */
export class EnvError extends Error {
  override readonly name = 'EnvError';
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * `PORT`: the host port the server listens on at 127.0.0.1.
 * @returns an integer 1-65535
 * @throws EnvError when missing or not an integer in 1-65535
 */
export function readPort(env: Env = process.env): number {
  const raw = env.PORT;
  if (raw === undefined || raw.trim() === '') {
    throw new EnvError('PORT is required: set it to the port to listen on at 127.0.0.1 (1-65535)');
  }
  const port = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || port < 1 || port > 65535) {
    throw new EnvError(`PORT must be an integer 1-65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

/**
 * `DATABASE_URL`: the PostgreSQL connection string.
 * @returns the URL as given
 * @throws EnvError when missing or not a `postgres://` / `postgresql://` URL
 */
export function readDatabaseUrl(env: Env = process.env): string {
  const raw = env.DATABASE_URL;
  if (raw === undefined || raw.trim() === '') {
    throw new EnvError('DATABASE_URL is required: set it to postgres://user:password@host:port/database');
  }
  if (!/^postgres(ql)?:\/\//.test(raw)) {
    throw new EnvError('DATABASE_URL must start with postgres:// or postgresql:// (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  }
  return raw;
}

/**
 * `APP_VERSION`: which release this process is.
 * @returns `v1` … `v4`
 * @throws EnvError when missing or not a release
 */
export function readAppVersion(env: Env = process.env): ReleaseVersion {
  const raw = env.APP_VERSION;
  if (raw === undefined || raw.trim() === '') {
    throw new EnvError('APP_VERSION is required: set it to v1, v2, v3 or v4 (the image sets it)');
  }
  try {
    return release(raw).version;
  } catch (error) {
    throw new EnvError((error as Error).message);
  }
}
