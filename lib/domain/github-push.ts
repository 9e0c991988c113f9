/**
 * GitHub push → deployment decision. Pure functions, no I/O: the webhook handler verifies and parses
 * the delivery, then asks {@link decidePush} whether (and what) to deploy.
 */
import type { Commit, PushEvent } from '@octokit/webhooks-types';
import type { Config, EnvironmentConfig } from '../config/schema';
import { findTarget, isRepositoryConfigured } from '../config/load';
import { ExplicitDeployInputSchema, type ExplicitDeployInput } from './deploy-input';

export type PushDecision =
  | {
      readonly kind: 'deploy';
      /** The `deploy` execution's input (valid against `ExplicitDeployInputSchema`). */
      readonly input: ExplicitDeployInput;
      /** The execution's name: the delivery id, so a redelivery maps to the same execution. */
      readonly executionName: string;
    }
  | { readonly kind: 'ignore'; readonly reason: string };

const ZERO_SHA = /^0+$/;
/** GitHub sends at most this many commits in a push payload; more were pushed if the list is full. */
const MAX_PAYLOAD_COMMITS = 2048;

/** Step Functions execution name rules: 1-80 characters, none of these (nor whitespace / control characters). */
const FORBIDDEN_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

/** Whether `name` can be a Step Functions execution name. */
export function isValidExecutionName(name: string): boolean {
  return name.length >= 1 && name.length <= 80 && !FORBIDDEN_NAME_CHARS.test(name);
}

/**
 * The ARN an execution named `name` of `stateMachineArn` has
 * (`arn:<p>:states:<r>:<a>:stateMachine:<sm>[:<version>]` → `arn:<p>:states:<r>:<a>:execution:<sm>:<name>`).
 * @returns `undefined` when `stateMachineArn` is not a state machine ARN
 */
export function executionArnFor(stateMachineArn: string, name: string): string | undefined {
  const parts = stateMachineArn.split(':');
  if (parts.length < 7 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== 'stateMachine' || !parts[6]) {
    return undefined;
  }
  return [...parts.slice(0, 5), 'execution', parts[6], name].join(':');
}

/** Minimal shape check of a parsed `push` payload (enough for {@link decidePush} not to crash). */
export function isPushPayload(value: unknown): value is PushEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const repository = v.repository as Record<string, unknown> | null | undefined;
  return (
    typeof v.ref === 'string' &&
    typeof repository === 'object' &&
    repository !== null &&
    typeof repository.full_name === 'string' &&
    (v.commits === undefined || Array.isArray(v.commits)) &&
    (v.head_commit === undefined || v.head_commit === null || typeof v.head_commit === 'object')
  );
}

function hasFileLists(c: Partial<Commit>): c is Commit {
  return Array.isArray(c.added) && Array.isArray(c.modified) && Array.isArray(c.removed);
}

/**
 * Whether the pushed commits carry schema migrations: any added, modified or removed file under one of
 * the environment's `database.migration.paths`.
 * - `false` when the environment has no database;
 * - `true` (safe) when the payload cannot tell: a commit without file lists, a commit whose lists are
 *   all empty (GitHub leaves them empty for very large commits), or a full (truncated) commit list.
 */
export function releaseHasMigrations(push: PushEvent, environment: EnvironmentConfig): boolean {
  const database = environment.database;
  if (!database) return false;
  const commits: Partial<Commit>[] = [...(push.commits ?? [])];
  if (push.head_commit && !commits.some((c) => c.id === push.head_commit!.id)) commits.push(push.head_commit);
  if (commits.length === 0 || (push.commits?.length ?? 0) >= MAX_PAYLOAD_COMMITS) return true;
  const prefixes = database.migration.paths;
  for (const commit of commits) {
    if (!hasFileLists(commit)) return true;
    const files = [...commit.added, ...commit.modified, ...commit.removed];
    if (files.length === 0) return true;
    if (files.some((f) => typeof f === 'string' && prefixes.some((p) => f.startsWith(p)))) return true;
  }
  return false;
}

/** `s` if it fits `max` characters, else `undefined` (optional fields stay schema-valid). */
function fit(s: string | null | undefined, max: number): string | undefined {
  return typeof s === 'string' && s.length > 0 && s.length <= max ? s : undefined;
}

function firstLine(message: string | undefined): string | undefined {
  if (typeof message !== 'string') return undefined;
  const line = message.split(/\r?\n/, 1)[0]!.trim();
  if (!line) return undefined;
  return line.length <= 1000 ? line : `${line.slice(0, 999)}…`;
}

/**
 * Decide what a verified GitHub `push` delivery does.
 * @param push the parsed payload (check it with {@link isPushPayload} first)
 * @param config the cutover config
 * @param deliveryId the `X-GitHub-Delivery` header, used as the execution name (validate it with
 *   {@link isValidExecutionName})
 * @returns `deploy` with the execution input and name, or `ignore` with the reason
 */
export function decidePush(push: PushEvent, config: Config, deliveryId: string): PushDecision {
  const ignore = (reason: string): PushDecision => ({ kind: 'ignore', reason });
  const ref = push.ref;
  const repository = push.repository.full_name;

  if (ref.startsWith('refs/tags/')) return ignore(`tag push (${ref}) is not deployed`);
  if (!ref.startsWith('refs/heads/')) return ignore(`ref ${ref} is not a branch`);
  if (push.deleted === true || (typeof push.after === 'string' && ZERO_SHA.test(push.after))) {
    return ignore(`branch deletion (${ref}) is not deployed`);
  }
  const head = push.head_commit;
  if (!head) return ignore(`push to ${ref} has no head commit`);

  const branch = ref.slice('refs/heads/'.length);
  if (!isRepositoryConfigured(config, { github: repository })) {
    return ignore(`repository "${repository}" is not configured`);
  }
  const target = findTarget(config, { github: repository }, branch);
  if (!target) return ignore(`branch "${branch}" of repository "${repository}" is not configured`);

  const input: ExplicitDeployInput = {
    service: target.serviceName,
    environment: target.environmentName,
    release: {
      commit: head.id,
      migrations: releaseHasMigrations(push, target.environment),
      message: firstLine(head.message),
      ref: fit(ref, 255),
      ...(typeof head.timestamp === 'string' && !Number.isNaN(Date.parse(head.timestamp)) ? { committedAt: new Date(head.timestamp).toISOString() } : {}),
    },
    trigger: {
      source: 'github-push',
      actor: fit(push.pusher?.name, 255) ?? fit(push.sender?.login, 255),
      deliveryId: fit(deliveryId, 128),
      url: fit(push.compare, 2048),
    },
  };
  const parsed = ExplicitDeployInputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    return ignore(`push to ${ref} cannot be deployed: ${problems}`);
  }
  return { kind: 'deploy', input: parsed.data, executionName: deliveryId };
}
