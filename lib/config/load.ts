/**
 * Loading and validating the cutover config, and resolving a push (repository + branch) to the
 * service and environment it deploys.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
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

/** Name of the environment variable that carries the config (JSON) to the Lambda handlers. */
export const CONFIG_ENV_VAR = 'CUTOVER_CONFIG';

/**
 * Read the config from `CUTOVER_CONFIG` (JSON). Used by handlers; the CDK app sets the variable.
 * @throws ConfigError if unset or invalid
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const text = env[CONFIG_ENV_VAR];
  if (!text) throw new ConfigError(`${CONFIG_ENV_VAR} is not set: the function needs the cutover config as JSON.`);
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
