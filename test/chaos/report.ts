/**
 * The sweep's table (Task state × fault kind → outcome) and its summary line.
 */
import { FAULT_KINDS, type FaultKind } from '../../lib/local/simulator';
import type { CellResult, RunResult, SweepResult } from './sweep';

/** One cell's text: the outcome(s) of its runs, `✘ …` when one broke an invariant, or why it was not run. */
export function cellText(cell: CellResult | undefined): string {
  if (!cell) return '';
  if (cell.skip) return cell.skip === 'no AWS call' ? '· no AWS call' : cell.skip === 'not exercised' ? '? not exercised' : `– ${cell.skip === 'nothing it calls can vanish' ? 'n/a' : cell.skip}`;
  const broken = cell.runs.filter((r) => r.broken.length > 0);
  const outcomes = [...new Set(cell.runs.map((r) => r.outcome))];
  const n = cell.runs.length > 1 ? ` ×${cell.runs.length}` : '';
  const noFault = cell.runs.every((r) => r.faulted.length === 0) ? ' (no call hit)' : '';
  if (broken.length > 0) return `✘ ${outcomes.join('/')}${n}`;
  return `✔ ${outcomes.join('/')}${n}${noFault}`;
}

/** The table as text: one row per Task state, one column per fault kind. */
export function table(result: SweepResult, kinds: readonly FaultKind[] = FAULT_KINDS): string {
  const rows: string[][] = [['step', ...kinds, 'home scenario / note']];
  for (const s of result.plan.states) {
    const cells = kinds.map((k) => cellText(result.cells.find((c) => c.machine === s.machine && c.state === s.state && c.kind === k)));
    if (cells.every((c) => c === '')) continue;
    rows.push([`${s.machine}/${s.state}`, ...cells, s.home ?? s.reason ?? '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export interface Summary {
  /** Runs with a fault target (cases). */
  readonly cases: number;
  /** Cells run (state × kind), and cells not run with why. */
  readonly cells: number;
  readonly skipped: Record<string, number>;
  readonly outcomes: Record<string, number>;
  /** Cases that broke at least one invariant, plus broken clean runs. */
  readonly broken: number;
  readonly brokenBaselines: number;
  /** Cases where the fault hit no call (the step made none in that attempt). */
  readonly unhit: number;
}

export function summarize(result: SweepResult): Summary {
  const runs: RunResult[] = result.cells.flatMap((c) => c.runs);
  const outcomes: Record<string, number> = {};
  for (const r of runs) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  const skipped: Record<string, number> = {};
  for (const c of result.cells) if (c.skip) skipped[c.skip] = (skipped[c.skip] ?? 0) + 1;
  return {
    cases: runs.length,
    cells: result.cells.filter((c) => !c.skip).length,
    skipped,
    outcomes,
    broken: runs.filter((r) => r.broken.length > 0).length,
    brokenBaselines: [...result.baselines.values()].filter((r) => r.broken.length > 0).length,
    unhit: runs.filter((r) => r.faulted.length === 0).length,
  };
}

export function summaryLine(s: Summary): string {
  const outcomes = Object.entries(s.outcomes)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  const skipped = Object.entries(s.skipped)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  return (
    `${s.cases} cases in ${s.cells} step × fault cells (${outcomes || 'none run'})` +
    `${skipped ? `; cells not run: ${skipped}` : ''}; ` +
    `${s.broken} case(s) broke an invariant${s.brokenBaselines ? `, ${s.brokenBaselines} clean run(s) broke one` : ''}` +
    `${s.unhit ? `; ${s.unhit} case(s) hit no call` : ''}`
  );
}

/** Every broken case (and clean run) with its invariants, for the report under the table. */
export function brokenDetails(result: SweepResult): string[] {
  const lines: string[] = [];
  for (const [id, r] of result.baselines) {
    if (r.broken.length) lines.push(`✘ clean run ${id}: ${r.broken.join(' | ')}`);
  }
  for (const c of result.cells) {
    for (const r of c.runs) {
      if (r.broken.length === 0) continue;
      lines.push(
        `✘ ${c.machine}/${c.state} × ${c.kind}${r.target?.position ? ` (call ${r.target.position})` : ''} [${c.scenario}] → ${r.status}${r.error ? ` ${r.error}` : ''}\n` +
          `    faulted: ${r.faulted.join(', ') || 'none'}\n` +
          r.broken.map((b) => `    broken: ${b}`).join('\n'),
      );
    }
  }
  return lines;
}

/** Notes (e.g. notifications SNS refused under the fault), one line per case. */
export function noteDetails(result: SweepResult): string[] {
  return result.cells.flatMap((c) =>
    c.runs.filter((r) => r.notes.length > 0).map((r) => `  ${c.machine}/${c.state} × ${c.kind}${r.target?.position ? ` (call ${r.target.position})` : ''}: ${r.notes.join('; ')}`),
  );
}
