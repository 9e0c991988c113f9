/**
 * The snapshot restore-and-swap as a sequence of idempotent steps, decided from what exists now.
 * Pure: given the observed state of the original, restored and aside databases, say what to do next.
 *
 *   restore snapshot → <id>-restored-<h>   (wait until available; Aurora: + its writer instance)
 *   configure <id>-restored-<h>            (what the restore call cannot take, e.g. monitoring and
 *                                           Performance Insights: only when missing; wait until available)
 *   rename <id> → <id>-pre-<h>             (kept, never deleted; wait until available)
 *   rename <id>-restored-<h> → <id>        (wait until available) → done
 */
import { createHash } from 'node:crypto';

export interface RestoreNames {
  original: string;
  restored: string;
  aside: string;
}

/** RDS identifiers are at most 63 characters. */
const MAX_IDENTIFIER_LENGTH = 63;
/** The longest suffix the swap appends: `-restored-` and a 6-character hash. */
const LONGEST_SUFFIX_LENGTH = '-restored-'.length + 6;

/** Identifiers used by the swap (RDS identifiers: ≤ 63 chars, letters, digits, hyphens). */
export function restoreNames(original: string, deploymentId: string): RestoreNames {
  const h = createHash('sha256').update(deploymentId).digest('hex').slice(0, 6);
  // Shorten the base so that the longest derived name still fits (was 63 - 14: a 48+ character
  // identifier gave a 64-65 character `-restored-` name, which RDS rejects).
  const base = original.slice(0, MAX_IDENTIFIER_LENGTH - LONGEST_SUFFIX_LENGTH).replace(/-+$/, '');
  return { original, restored: `${base}-restored-${h}`, aside: `${base}-pre-${h}` };
}

export interface Observed {
  original?: { status: string };
  /**
   * `missingSettings`: names of the original's settings the restored database does not have yet (those
   * a restore call cannot take, applied by a modify); observed only before the swap begins.
   */
  restored?: { status: string; missingSettings?: readonly string[] };
  aside?: { status: string };
  /** How many times this restore applied the missing settings already (0 when absent). */
  configureAttempts?: number;
}

/**
 * Times the missing settings are applied before the swap goes on without them. A modify that RDS
 * accepted but whose result never shows in the description (a value RDS normalises differently) must
 * not hold a restore for hours: after this many attempts the swap proceeds and the result names them.
 */
export const MAX_CONFIGURE_ATTEMPTS = 3;

/** Status reported for an available Aurora cluster that has no DB instances yet. */
export const NO_INSTANCES = 'no-instances';

export type RestoreAction =
  | { do: 'restore'; phase: 'restoring' }
  | { do: 'create-writer'; phase: 'restoring' }
  | { do: 'configure-restored'; phase: 'configuring' }
  | { do: 'wait'; phase: string }
  | { do: 'rename-original-aside'; phase: 'renaming-original' }
  | { do: 'rename-restored-into-place'; phase: 'renaming-restored' }
  | { do: 'done'; phase: 'done' };

/**
 * The next step of the restore-and-swap, from what exists now (every step is safe to repeat: a retried
 * Lambda observes the effect of the step it already took). Settings are applied to the restored
 * database only before the swap begins — while the original still serves under its name — so a modify
 * that fails leaves production as it was.
 */
export function nextRestoreAction(o: Observed): RestoreAction {
  const available = (x?: { status: string }) => x?.status === 'available';
  if (!o.restored && !o.aside) return { do: 'restore', phase: 'restoring' };
  // An Aurora cluster restored from a snapshot has no instances until one is created.
  if (o.restored?.status === NO_INSTANCES) return { do: 'create-writer', phase: 'restoring' };
  const attempts = o.configureAttempts ?? 0;
  if (o.restored && !available(o.restored)) return { do: 'wait', phase: attempts > 0 && !o.aside ? 'configuring' : 'restoring' };
  if (o.restored && !o.aside && o.original && (o.restored.missingSettings?.length ?? 0) > 0 && attempts < MAX_CONFIGURE_ATTEMPTS) {
    return { do: 'configure-restored', phase: 'configuring' };
  }
  if (o.restored && !o.aside && o.original) return { do: 'rename-original-aside', phase: 'renaming-original' };
  if (o.aside && !available(o.aside)) return { do: 'wait', phase: 'renaming-original' };
  if (o.aside && o.original && o.restored) return { do: 'wait', phase: 'renaming-original' };
  if (o.aside && !o.original && o.restored) return { do: 'rename-restored-into-place', phase: 'renaming-restored' };
  if (o.aside && o.original && !o.restored) {
    return available(o.original) ? { do: 'done', phase: 'done' } : { do: 'wait', phase: 'renaming-restored' };
  }
  return { do: 'wait', phase: 'unknown' };
}
