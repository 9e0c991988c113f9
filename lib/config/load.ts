/**
 * Loading and validating the cutover config, and resolving a push (repository + branch) to the
 * service and environment it deploys.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { z } from 'zod';
import { ConfigSchema, type Config, type EnvironmentConfig, type ServiceConfig } from './schema';

/** Thrown for a config that cannot be used. `message` lists every problem as `path: what to do`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    /** One entry per problem: the dotted path of the field and the fix. */
    readonly problems: ReadonlyArray<{ path: string; message: string }> = [],
  ) {
    super(message);
  }
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? '(top level)' : path.map((p) => String(p)).join('.');
}

/**
 * Validate a config object.
 * @param raw the parsed JSON (any shape)
 * @param source where it came from, named in the error (a file path or an env var name)
 * @returns the config with defaults applied
 * @throws ConfigError naming each bad field's path and the fix
 */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: describeIssue(issue) }));
  throw new ConfigError(
    `Invalid cutover config in ${source}:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`,
    problems,
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove them or check the spelling (see README "Config reference")`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `required: add this field (${issue.expected})`;
  }
  if (issue.code === 'invalid_union') {
    return `${issue.message}; see README "Config reference" for the accepted shapes`;
  }
  return issue.message;
}

/**
 * Read and validate a JSON config file.
 * @param path file path, relative to the current directory or absolute
 * @throws ConfigError if the file is missing, is not JSON, or fails validation
 */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read cutover config file ${path}: ${(err as Error).message}. Pass an existing file (--config / context "cutover:config").`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Cutover config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw, path);
}

/**
 * Name of the environment variable that names the config file of a deployed function: the CDK app
 * writes the validated config into each function's bundle as {@link BUNDLED_CONFIG_FILE} (no size
 * limit; Lambda caps a function's whole environment at 4 KB, which two services already exceeded).
 * A relative path is resolved against `LAMBDA_TASK_ROOT` (the bundle's directory, `/var/task`).
 */
export const CONFIG_FILE_ENV_VAR = 'CUTOVER_CONFIG_FILE';

/** File name of the config inside a function's bundle. */
export const BUNDLED_CONFIG_FILE = 'cutover-config.json';

/**
 * Name of the environment variable that carries the config as JSON, for the local twin and tests
 * (in-process handlers have no bundle). Deployed functions use {@link CONFIG_FILE_ENV_VAR}.
 */
export const CONFIG_ENV_VAR = 'CUTOVER_CONFIG';

/** Configs read from files, by absolute path: a function reads its bundled file once per container. */
const fileCache = new Map<string, Config>();

/**
 * The config of a running handler: the file named by `CUTOVER_CONFIG_FILE` (read and validated once,
 * then cached for the life of the container), else the JSON in `CUTOVER_CONFIG` (the twin, tests).
 * @throws ConfigError naming the variable or file when neither is set, the file is missing or not JSON,
 *   or the config is invalid
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const file = env[CONFIG_FILE_ENV_VAR];
  if (file) {
    const path = isAbsolute(file) ? file : join(env.LAMBDA_TASK_ROOT ?? process.cwd(), file);
    const cached = fileCache.get(path);
    if (cached) return cached;
    let config: Config;
    try {
      config = loadConfigFile(path);
    } catch (err) {
      throw new ConfigError(`${CONFIG_FILE_ENV_VAR} (${path}): ${(err as Error).message}`);
    }
    fileCache.set(path, config);
    return config;
  }
  const text = env[CONFIG_ENV_VAR];
  if (!text) throw new ConfigError(`Neither ${CONFIG_FILE_ENV_VAR} nor ${CONFIG_ENV_VAR} is set: the function needs the cutover config (a bundled file, or JSON locally).`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${CONFIG_ENV_VAR} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw, CONFIG_ENV_VAR);
}

/** A repository as seen in an event: GitHub `owner/name` or a CodeCommit repository name. */
export type RepositoryRef = { github: string } | { codecommit: string };

export interface Target {
  serviceName: string;
  service: ServiceConfig;
  environmentName: string;
  environment: EnvironmentConfig;
}

/**
 * Find the service and environment a push to `branch` of `repository` deploys to.
 * GitHub names compare case-insensitively (as GitHub does); branch names are exact.
 * @returns the target, or `undefined` with no match (an unconfigured repository or branch)
 */
export function findTarget(config: Config, repository: RepositoryRef, branch: string): Target | undefined {
  for (const [serviceName, service] of Object.entries(config.services)) {
    const repo = service.repository;
    const matches =
      'github' in repository
        ? 'github' in repo && repo.github.toLowerCase() === repository.github.toLowerCase()
        : 'codecommit' in repo && repo.codecommit === repository.codecommit;
    if (!matches) continue;
    const environmentName = service.branches[branch];
    if (environmentName === undefined) continue;
    const environment = service.environments[environmentName];
    if (environment) return { serviceName, service, environmentName, environment };
  }
  return undefined;
}

/** Whether any service watches this repository at all (to tell "unconfigured repo" from "unconfigured branch"). */
export function isRepositoryConfigured(config: Config, repository: RepositoryRef): boolean {
  return Object.values(config.services).some((s) =>
    'github' in repository
      ? 'github' in s.repository && s.repository.github.toLowerCase() === repository.github.toLowerCase()
      : 'codecommit' in s.repository && s.repository.codecommit === repository.codecommit,
  );
}

/**
 * The AWS region and account the config's resources live in, from its ARNs (target groups, listeners,
 * listener rules, token secrets) and ECR image repositories (`<account>.dkr.ecr.<region>.amazonaws.com/…`):
 * the local twin takes them for its own ARNs, so that its resources, events and patterns match the
 * config's. `undefined` when the config names none.
 * @throws ConfigError naming the two resources when they disagree (a twin is one region of one account)
 */
export function configRegionAndAccount(config: Config): { region: string; accountId: string } | undefined {
  const seen: Array<{ region: string; accountId: string; from: string }> = [];
  const arn = (text: string | undefined) => {
    const m = text ? /^arn:aws[a-z-]*:[a-z0-9-]+:([a-z0-9-]+):(\d{12}):/.exec(text) : null;
    if (m) seen.push({ region: m[1]!, accountId: m[2]!, from: text! });
  };
  for (const svc of Object.values(config.services)) {
    arn(svc.github?.tokenSecretArn);
    for (const env of Object.values(svc.environments)) {
      arn(env.slots.blue.targetGroupArn);
      arn(env.slots.green.targetGroupArn);
      for (const route of [env.production, env.test]) if (route) arn('listenerArn' in route ? route.listenerArn : route.ruleArn);
      const ecr = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\//.exec(env.imageRepository);
      if (ecr) seen.push({ region: ecr[2]!, accountId: ecr[1]!, from: env.imageRepository });
    }
  }
  const first = seen[0];
  if (!first) return undefined;
  const other = seen.find((s) => s.region !== first.region || s.accountId !== first.accountId);
  if (other) {
    throw new ConfigError(
      `the local twin runs one region of one account, but the config names ${first.region}/${first.accountId} (${first.from}) and ${other.region}/${other.accountId} (${other.from}); use one region and account in the config the twin runs`,
    );
  }
  return { region: first.region, accountId: first.accountId };
}

