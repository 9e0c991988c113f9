/**
 * `npm run chaos` — the fault sweep (./sweep.ts): every AWS-touching Task state of deploy, rollback
 * and rollback-window × throttling, 5xx, timeout, AccessDenied and a vanished resource, each a real
 * run on a fresh twin, checked against cutover's invariants. Prints progress, the table (step × fault
 * → outcome), every broken invariant and a summary line; exits 1 when a case (or a clean run) broke
 * an invariant, 2 on a usage error.
 *
 * Options:
 *   --state <name>[,<name>…]   only these Task states (`CheckGreen` or `deploy/CheckGreen`)
 *   --fault <kind>[,<kind>…]   only these kinds: throttling, server-error, timeout, access-denied, vanished
 *   --scenario <id>[,<id>…]    only these scenarios (see test/chaos/scenarios.ts)
 *   --json <file>              also write every run (baselines, plan, cases) as JSON
 *   --quiet                    no progress lines
 */
import '../../lib/local/node-warnings';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from '../../lib/local/simulator';
import { SCENARIOS } from './scenarios';
import { brokenDetails, noteDetails, summarize, summaryLine, table } from './report';
import { runSweep } from './sweep';

function list(value: string | undefined): string[] | undefined {
  return value ? value.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      state: { type: 'string' },
      fault: { type: 'string' },
      scenario: { type: 'string' },
      json: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const kinds = list(values.fault) as FaultKind[] | undefined;
  const unknownKind = kinds?.find((k) => !FAULT_KINDS.includes(k));
  if (unknownKind) {
    console.error(`--fault: unknown kind "${unknownKind}"; use ${FAULT_KINDS.join(', ')}`);
    return 2;
  }
  const scenarios = list(values.scenario);
  const unknownScenario = scenarios?.find((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknownScenario) {
    console.error(`--scenario: unknown scenario "${unknownScenario}"; use ${SCENARIOS.map((s) => s.id).join(', ')}`);
    return 2;
  }
  const states = list(values.state);
  const started = Date.now();
  const result = await runSweep({
    scenarios,
    kinds,
    states: states ? (machine, state) => states.includes(state) || states.includes(`${machine}/${state}`) : undefined,
    progress: values.quiet ? undefined : (line) => console.log(line),
  });
  console.log('');
  console.log(table(result, kinds ?? FAULT_KINDS));
  const broken = brokenDetails(result);
  if (broken.length > 0) {
    console.log('\nBroken invariants:');
    for (const line of broken) console.log(line);
  }
  const notes = noteDetails(result);
  if (notes.length > 0) {
    console.log('\nNotes:');
    for (const line of notes) console.log(line);
  }
  const summary = summarize(result);
  console.log(`\n${summaryLine(summary)} — ${Math.round((Date.now() - started) / 1000)} s`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ summary, ...result, baselines: Object.fromEntries(result.baselines) }, null, 2));
  return summary.broken > 0 || summary.brokenBaselines > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(2);
  },
);
