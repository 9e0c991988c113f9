/**
 * The snapshot restore-and-swap as a sequence of idempotent steps, decided from what exists now.
 * Pure: given the observed state of the original, restored and aside databases, say what to do next.
 *
 *   restore snapshot → <id>-restored-<h>   (wait until available)
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
  restored?: { status: string };
  aside?: { status: string };
}

/** Status reported for an available Aurora cluster that has no DB instances yet. */
export const NO_INSTANCES = 'no-instances';

export type RestoreAction =
  | { do: 'restore'; phase: 'restoring' }
  | { do: 'create-writer'; phase: 'restoring' }
  | { do: 'wait'; phase: string }
  | { do: 'rename-original-aside'; phase: 'renaming-original' }
  | { do: 'rename-restored-into-place'; phase: 'renaming-restored' }
  | { do: 'done'; phase: 'done' };

export function nextRestoreAction(o: Observed): RestoreAction {
  const available = (x?: { status: string }) => x?.status === 'available';
  if (!o.restored && !o.aside) return { do: 'restore', phase: 'restoring' };
  // An Aurora cluster restored from a snapshot has no instances until one is created.
  if (o.restored?.status === NO_INSTANCES) return { do: 'create-writer', phase: 'restoring' };
  if (o.restored && !available(o.restored)) return { do: 'wait', phase: 'restoring' };
  if (o.restored && !o.aside && o.original) return { do: 'rename-original-aside', phase: 'renaming-original' };
  if (o.aside && !available(o.aside)) return { do: 'wait', phase: 'renaming-original' };
  if (o.aside && o.original && o.restored) return { do: 'wait', phase: 'renaming-original' };
  if (o.aside && !o.original && o.restored) return { do: 'rename-restored-into-place', phase: 'renaming-restored' };
  if (o.aside && o.original && !o.restored) {
    return available(o.original) ? { do: 'done', phase: 'done' } : { do: 'wait', phase: 'renaming-restored' };
  }
  return { do: 'wait', phase: 'unknown' };
}
