/**
 * zod schemas for what the operator CLI reads from outside: ledger items (DynamoDB) and execution
 * inputs/outputs (Step Functions). Loose: fields the CLI does not show are kept as they are, so newer
 * items written by newer state machines still read.
 */
import { z } from 'zod';
import { CliError } from './errors';

const iso = z.string().min(1);
const slot = z.string().min(1);

export const LockItemSchema = z.looseObject({
  deploymentId: z.string().min(1),
  executionArn: z.string().min(1),
  acquiredAt: iso,
  commit: z.string().optional(),
  pendingTaskToken: z.string().optional(),
  pendingKind: z.enum(['bake', 'approval', 'database-decision']).optional(),
  pendingQuestion: z.string().optional(),
  purpose: z.string().optional(),
  abortRequested: z.looseObject({ by: z.string(), reason: z.string(), at: z.string() }).optional(),
});
export type Lock = z.infer<typeof LockItemSchema>;

export const TriggerItemSchema = z.looseObject({
  source: z.string(),
  actor: z.string().optional(),
  of: z.string().optional(),
  reason: z.string().optional(),
  deliveryId: z.string().optional(),
  url: z.string().optional(),
});

export const DeploymentRecordSchema = z.looseObject({
  deploymentId: z.string().min(1),
  executionArn: z.string().min(1),
  service: z.string().optional(),
  environment: z.string().optional(),
  status: z.string().min(1),
  commit: z.string().optional(),
  image: z.string().optional(),
  trigger: TriggerItemSchema.optional().nullable(),
  startedAt: iso,
  finishedAt: z.string().optional(),
  error: z.string().nullable().optional(),
  message: z.string().optional(),
  liveSlot: z.string().optional(),
  pendingKind: z.string().optional(),
  pendingQuestion: z.string().optional(),
  kind: z.enum(['deploy', 'rollback']).optional(),
  rolledBackBy: z.string().optional(),
  reason: z.string().optional(),
});
export type DeploymentRow = z.infer<typeof DeploymentRecordSchema>;

const ReleaseRefSchema = z.looseObject({
  deploymentId: z.string().optional(),
  commit: z.string().optional(),
  image: z.string().optional(),
  slot,
  promotedAt: z.string().optional(),
  source: z.string().optional(),
});

export const EnvironmentStateSchema = z.looseObject({
  liveSlot: slot,
  current: ReleaseRefSchema.optional(),
  rollbackWindow: z
    .looseObject({ deploymentId: z.string(), keptSlot: slot, kept: ReleaseRefSchema.partial().optional(), until: iso, seconds: z.number() })
    .optional(),
  lastGoodDeploymentId: z.string().optional(),
  lastGoodCommit: z.string().optional(),
  lastGoodImage: z.string().optional(),
  updatedAt: z.string().optional(),
});
export type Environment = z.infer<typeof EnvironmentStateSchema>;

export const AuditEventSchema = z.looseObject({
  at: iso,
  kind: z.string(),
  deploymentId: z.string().optional(),
  executionArn: z.string().optional(),
  actor: z.string(),
  message: z.string(),
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type Audit = z.infer<typeof AuditEventSchema>;

/** A deploy execution's output (`$.outcome`): the parts the CLI shows. */
export const OutcomeSchema = z.looseObject({ status: z.string().optional(), message: z.string().optional(), deploymentId: z.string().optional() });

/**
 * Validate an item read from the table.
 * @param what e.g. `the lock of hello-world/production` (for the error)
 * @throws CliError naming the item and the first problem
 */
export function parseItem<T>(schema: z.ZodType<T>, item: unknown, what: string): T {
  const parsed = schema.safeParse(item);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(`${what} in the table is not what cutover writes (${issue.path.join('.') || 'item'}: ${issue.message}): is --table the cutover ledger?`);
  }
  return parsed.data;
}

/** JSON text → value, or undefined when it is not JSON. */
export function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
