/**
 * The twin account: what the living twin needs to know about the user's AWS account beyond the
 * cutover config — what each container image runs on this machine, the real loopback port of each
 * listener, the target groups' health checks, the CloudWatch alarm definitions and the environment of
 * the initial task definition. On AWS these already exist (ECR images, ALB listeners, alarms); in the
 * twin this file creates them.
 *
 * The schema is zod; {@link parseTwinAccount} turns an issue into a {@link ConfigError} that names
 * the field and the fix.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../config/load';
import { listenerArn, listenerRuleArn } from '../../config/schema';
import { NAME_PATTERN } from '../../domain/names';
import type { LocalImage } from './types';

const port = z.number().int('use a whole port number').min(0, 'use 0 (any free port) or 1024-65535').max(65535, 'use at most 65535');
const seconds = (min: number, max: number) => z.number().int('use whole seconds').min(min, `use ${min}-${max} seconds`).max(max, `use ${min}-${max} seconds`);
const count = (min: number, max: number) => z.number().int('use a whole number').min(min, `use ${min}-${max}`).max(max, `use ${min}-${max}`);

const ImageSchema = z.strictObject({
  /** argv of the image's default command. */
  command: z.array(z.string().min(1)).min(1, 'give at least the program to run'),
  /** Working directory, relative to the account file's directory. */
  cwd: z.string().min(1),
  /** The image's ENV. */
  environment: z.record(z.string(), z.string()).default({}),
});

/** Health check and draining settings applied to every target group of the cutover config. */
const TargetGroupSchema = z.strictObject({
  /** @default '/' (AWS default) */
  healthCheckPath: z.string().startsWith('/', 'start the path with "/"').default('/'),
  /** Simulated seconds between health checks. @default 30 (AWS default) */
  healthCheckIntervalSeconds: seconds(5, 300).default(30),
  /** @default 5 (AWS default for HTTP target groups) */
  healthCheckTimeoutSeconds: seconds(2, 120).default(5),
  /** @default 5 */
  healthyThresholdCount: count(2, 10).default(5),
  /** @default 2 */
  unhealthyThresholdCount: count(2, 10).default(2),
  /** `deregistration_delay.timeout_seconds`, simulated. @default 300 (AWS default) */
  deregistrationDelaySeconds: seconds(0, 3600).default(300),
});

/** A single-metric alarm, in PutMetricAlarm's field names. */
const AlarmSchema = z.strictObject({
  AlarmName: z.string().min(1).max(255),
  AlarmDescription: z.string().max(1024).optional(),
  Namespace: z.string().min(1),
  MetricName: z.string().min(1),
  /** As CloudWatch shows them, e.g. `LoadBalancer` = `app/<name>/<id>` (from the load balancer ARN). */
  Dimensions: z.array(z.strictObject({ Name: z.string().min(1), Value: z.string().min(1) })).max(30).default([]),
  Statistic: z.enum(['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum']).optional(),
  ExtendedStatistic: z.string().regex(/^p\d{1,2}(\.\d+)?$/, 'use a percentile such as p99').optional(),
  /** Seconds: 10, 20, 30 or a multiple of 60. */
  Period: z.number().int().refine((p) => [10, 20, 30].includes(p) || (p >= 60 && p % 60 === 0), 'use 10, 20, 30 or a multiple of 60 seconds'),
  EvaluationPeriods: count(1, 100),
  DatapointsToAlarm: count(1, 100).optional(),
  Threshold: z.number(),
  ComparisonOperator: z.enum(['GreaterThanOrEqualToThreshold', 'GreaterThanThreshold', 'LessThanThreshold', 'LessThanOrEqualToThreshold']),
  TreatMissingData: z.enum(['breaching', 'notBreaching', 'ignore', 'missing']).default('missing'),
}).refine((a) => (a.Statistic === undefined) !== (a.ExtendedStatistic === undefined), {
  message: 'give exactly one of Statistic or ExtendedStatistic',
});

/**
 * An IAM principal ARN the twin can name as a caller: an IAM user or role
 * (`arn:aws:iam::<account>:user|role[/path]/<name>`) or an STS assumed-role session
 * (`arn:aws:sts::<account>:assumed-role/<role>/<session>`), in any partition.
 */
export const PRINCIPAL_ARN =
  /^arn:aws[a-z-]*:(?:iam::\d{12}:(?:user|role)\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}|sts::\d{12}:assumed-role\/[\w+=,.@-]{1,64}\/[\w+=,.@-]{2,64})$/;

/** Who signs with one access key (see `principals`). */
const PrincipalSchema = z.strictObject({
  /** The caller's ARN, as AWS reports it to a function URL (`userArn`). */
  arn: z
    .string()
    .regex(
      PRINCIPAL_ARN,
      'use an IAM user ARN (arn:aws:iam::<account>:user/<name>), a role ARN (arn:aws:iam::<account>:role/<name>) or an assumed-role session ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>)',
    ),
  /** The secret access key the caller signs with. @default 'local' (what the twin's CLI signs with) */
  secretAccessKey: z.string().min(1, 'give the secret access key, or leave it out for "local"').default('local'),
});

/** What an environment runs when the twin starts: revision 1 of its task definition on the blue slot. */
const InitialReleaseSchema = z.strictObject({
  /** Image tag of the first task definition revision. */
  imageTag: z.string().min(1).default('v1'),
  /** Desired count of the live slot. */
  desiredCount: count(1, 20).default(2),
  /** Environment of the app container; values may use `${databaseUrl}` (the environment's database). */
  environment: z.record(z.string(), z.string()).default({}),
  /** Run this command (the image's working dir, the container's environment) once before the live slot starts, e.g. the release's migrations. */
  setupCommand: z.array(z.string().min(1)).optional(),
});

export const TwinAccountSchema = z.strictObject({
  /** Images in the twin's registry at start: `repo:tag` → what it runs. */
  images: z.record(z.string(), ImageSchema).default({}),
  /** Real port on 127.0.0.1 per listener ARN of the config; listeners not named get a free port. */
  listenerPorts: z.record(z.string(), port).default({}),
  targetGroups: TargetGroupSchema.default(TargetGroupSchema.parse({})),
  /** Alarm definitions; every alarm the cutover config names must be defined here. */
  alarms: z.array(AlarmSchema).default([]),
  /** The initial (live) release of every environment of a service not in `initialReleases`. */
  initialRelease: InitialReleaseSchema.default({ imageTag: 'v1', desiredCount: 2, environment: {} }),
  /**
   * The initial release of a service's environments, by service name (services differ: their own image
   * tag, environment, setup command); a service not listed starts `initialRelease`. Names of services
   * the config does not have are ignored (one account file may serve several configs).
   * @default {}
   */
  initialReleases: z
    .record(z.string(), InitialReleaseSchema)
    .superRefine((releases, ctx) => {
      for (const service of Object.keys(releases)) {
        if (!NAME_PATTERN.test(service)) ctx.addIssue({ code: 'custom', path: [service], message: 'use a service name of the cutover config (1-40 lower-case letters, digits or "-")' });
      }
    })
    .default({}),
  /**
   * The IAM identities of the twin's account, by access key id: who a SigV4-signed request to a
   * function URL of the twin (`POST /lambda-url/approval/`, AWS_IAM auth) comes from, e.g.
   * `{ "AKIAALICE": { "arn": "arn:aws:sts::123456789012:assumed-role/release-managers/alice" } }`.
   * The twin verifies the signature with the key's `secretAccessKey` and passes `arn` to the function
   * as the caller's `userArn`. An access key not listed is the IAM user
   * `arn:aws:iam::<twin account>:user/<access key id>` signing with the secret `local` (the twin's
   * CLI signs as `AWS_ACCESS_KEY_ID`, else `local`, with `AWS_SECRET_ACCESS_KEY` when both are set,
   * else the secret `local`).
   * @default {} (every access key is a user of its own name)
   */
  principals: z.record(z.string().regex(/^[\w+=,.@-]{1,128}$/, 'use an access key id (letters, digits, at most 128)'), PrincipalSchema).default({}),
});

export type TwinAccount = z.infer<typeof TwinAccountSchema>;
export type TwinAlarm = TwinAccount['alarms'][number];
export type TwinPrincipals = TwinAccount['principals'];

/** The release a service's environments run when the twin starts: its own in `initialReleases`, else `initialRelease`. */
export function initialReleaseOf(account: TwinAccount, service: string): TwinAccount['initialRelease'] {
  return Object.hasOwn(account.initialReleases, service) ? account.initialReleases[service]! : account.initialRelease;
}

/**
 * Validate a twin account.
 * @param source where it came from, for messages (a file path)
 * @throws ConfigError naming each bad field and the fix
 */
export function parseTwinAccount(value: unknown, source = 'twin account'): TwinAccount {
  const result = TwinAccountSchema.safeParse(value);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ConfigError(`${source} is not valid:\n${lines.join('\n')}`);
  }
  for (const arn of Object.keys(result.data.listenerPorts)) {
    if (!listenerArn.safeParse(arn).success && !listenerRuleArn.safeParse(arn).success) {
      throw new ConfigError(`${source} is not valid:\n  - listenerPorts.${arn}: use a listener ARN (arn:aws:elasticloadbalancing:<region>:<account>:listener/app/...)`);
    }
  }
  return result.data;
}

/**
 * Read and validate a twin account file; image working directories are resolved against the file's
 * directory.
 * @throws ConfigError when the file is missing, not JSON, or not valid
 */
export function loadTwinAccountFile(path: string): { account: TwinAccount; images: Record<string, LocalImage> } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read the twin account file ${path}: ${(err as Error).message}. Pass --account <file>.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`The twin account file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const account = parseTwinAccount(json, path);
  const base = dirname(resolve(path));
  const images = Object.fromEntries(
    Object.entries(account.images).map(([ref, image]) => [
      ref,
      { command: image.command, cwd: isAbsolute(image.cwd) ? image.cwd : resolve(base, image.cwd), environment: image.environment },
    ]),
  );
  return { account, images };
}
