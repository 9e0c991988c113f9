/**
 * EventBridge rules of cutover, as plain data shared by the CDK app and the local twin.
 *
 * The CDK app turns {@link codeCommitEventPattern} into an `events.Rule` and
 * {@link CODECOMMIT_DEPLOY_INPUT_PATHS} into the rule target's input transformer; the local twin matches
 * POSTed EventBridge events against the same pattern and builds the execution input with
 * {@link codeCommitDeployInput}. Pure: no AWS SDK, no CDK.
 */
import type { Config } from '../config/schema';
import type { CodeCommitDeployInput } from './deploy-input';

/** Where the rule lives: the parts of an ARN that are not in the config. */
export interface ArnContext {
  /** AWS partition, e.g. `aws` (the CDK app passes the `AWS::Partition` token). */
  readonly partition: string;
  /** Region of the CodeCommit repositories, e.g. `us-east-1`. */
  readonly region: string;
  /** Account id of the CodeCommit repositories. */
  readonly account: string;
}

/** An EventBridge event pattern (the JSON syntax EventBridge stores) for CodeCommit pushes. */
export interface CodeCommitEventPattern {
  readonly source: readonly ['aws.codecommit'];
  readonly 'detail-type': readonly ['CodeCommit Repository State Change'];
  /** ARNs of the configured CodeCommit repositories. */
  readonly resources: readonly string[];
  readonly detail: {
    readonly event: readonly ['referenceCreated', 'referenceUpdated'];
    readonly referenceType: readonly ['branch'];
    /** Every branch configured for a CodeCommit repository. */
    readonly referenceName: readonly string[];
  };
}

/** Names of the CodeCommit repositories in the config, sorted, without duplicates. */
export function codeCommitRepositories(config: Config): string[] {
  const names = new Set<string>();
  for (const service of Object.values(config.services)) {
    if ('codecommit' in service.repository) names.add(service.repository.codecommit);
  }
  return [...names].sort();
}

/** ARN of a CodeCommit repository (`arn:<partition>:codecommit:<region>:<account>:<name>`). */
export function codeCommitRepositoryArn(name: string, where: ArnContext): string {
  return `arn:${where.partition}:codecommit:${where.region}:${where.account}:${name}`;
}

/**
 * The pattern of the rule that starts a deployment on a push to a configured CodeCommit branch: a
 * branch created or updated in one of the configured repositories, on one of their configured branches.
 *
 * One pattern covers all CodeCommit services: it matches a repository × branch pair only if both are
 * configured *somewhere*. A pair that no service maps (repository A, branch of repository B) still
 * starts an execution, which the `plan` function rejects (`findTarget` finds no target).
 *
 * @returns the pattern, or `undefined` when no service uses CodeCommit (no rule is needed)
 */
export function codeCommitEventPattern(config: Config, where: ArnContext): CodeCommitEventPattern | undefined {
  const repositories = codeCommitRepositories(config);
  if (repositories.length === 0) return undefined;
  const branches = new Set<string>();
  for (const service of Object.values(config.services)) {
    if ('codecommit' in service.repository) Object.keys(service.branches).forEach((b) => branches.add(b));
  }
  return {
    source: ['aws.codecommit'],
    'detail-type': ['CodeCommit Repository State Change'],
    resources: repositories.map((name) => codeCommitRepositoryArn(name, where)),
    detail: {
      event: ['referenceCreated', 'referenceUpdated'],
      referenceType: ['branch'],
      referenceName: [...branches].sort(),
    },
  };
}

/**
 * The input transformer of the CodeCommit rule: field of `codecommit` in the execution input → JSONPath
 * into the EventBridge event. Produces {@link CodeCommitDeployInput}.
 */
export const CODECOMMIT_DEPLOY_INPUT_PATHS = {
  repositoryName: '$.detail.repositoryName',
  referenceName: '$.detail.referenceName',
  commitId: '$.detail.commitId',
  callerUserArn: '$.detail.callerUserArn',
  eventId: '$.id',
} as const satisfies Record<keyof CodeCommitDeployInput['codecommit'], string>;

/**
 * What the rule's input transformer sends to the state machine for `event` (the twin's equivalent of
 * EventBridge's transformer). A path missing from the event is left out.
 */
export function codeCommitDeployInput(event: unknown): CodeCommitDeployInput {
  const codecommit: Record<string, unknown> = {};
  for (const [field, path] of Object.entries(CODECOMMIT_DEPLOY_INPUT_PATHS)) {
    const value = path
      .slice(2)
      .split('.')
      .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), event);
    if (value !== undefined) codecommit[field] = value;
  }
  return { codecommit } as CodeCommitDeployInput;
}
