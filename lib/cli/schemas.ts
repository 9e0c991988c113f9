/**
 * zod schemas for what the operator CLI reads from Step Functions (execution outputs), and the ledger
 * item types it shows. Loose: fields the CLI does not show are kept as they are.
 */
import { z } from 'zod';

// The ledger's items (lock, deployment records, environment state, audit events) are the domain's
// one model: lib/domain/ledger-items.ts. The CLI reads them through the Ledger adapter, which validates them.
export type { AuditEvent as Audit, DeploymentRecord as DeploymentRow, EnvironmentState as Environment, LockItem as Lock } from '../domain/ledger-items';

/** A deploy execution's output (`$.outcome`): the parts the CLI shows. */
export const OutcomeSchema = z.looseObject({ status: z.string().optional(), message: z.string().optional(), deploymentId: z.string().optional() });

/** JSON text → value, or undefined when it is not JSON. */
export function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
