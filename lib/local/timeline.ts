/**
 * A readable, live timeline of executions from their Step Functions history events:
 *
 *   deploy 8f3c…  t+0s      ▶ ResolvePlan
 *   deploy 8f3c…  t+5m10s   ✗ CheckAlarms  Cutover.Transient: ThrottlingException: Rate exceeded (retrying)
 *
 * Times are simulated time since the execution started (what it would take on AWS).
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { causeText } from '../domain/records';

export interface TimelineOptions {
  /** Where lines go. @default console.log */
  readonly write?: (line: string) => void;
  /** Simulated "now" in ms since epoch. */
  readonly now: () => number;
  /** Also print Choice / Pass / Wait states. @default false */
  readonly verbose?: boolean;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** Returns a history-event listener that prints a timeline line for the interesting events. */
export function createTimeline(options: TimelineOptions): (executionArn: string, event: HistoryEvent) => void {
  const write = options.write ?? ((line: string) => console.log(line));
  const started = new Map<string, number>();
  // Polling loops (bake, snapshot, migration, green, restore) enter the same Wait and Task many times:
  // a Wait prints once per run of repeats, and a Task entered right after a Wait (the loop's check) not at all.
  const lastWait = new Map<string, string>();
  const previousType = new Map<string, string>();
  return (executionArn, event) => {
    const name = executionArn.split(':').pop() ?? executionArn;
    const short = name.length > 12 ? `${name.slice(0, 8)}…` : name;
    if (event.type === 'ExecutionStarted') started.set(executionArn, options.now());
    const t0 = started.get(executionArn) ?? options.now();
    const at = `t+${formatDuration((options.now() - t0) / 1000)}`.padEnd(9);
    const line = (mark: string, text: string) => write(`  ${short.padEnd(10)} ${at} ${mark} ${text}`);
    const type = event.type ?? '';
    if (type === 'ExecutionStarted') return line('●', `execution started${startReason(event.executionStartedEventDetails?.input)}`);
    if (type.endsWith('StateEntered')) {
      const state = event.stateEnteredEventDetails?.name ?? '?';
      const afterWait = previousType.get(executionArn) === 'WaitStateEntered';
      previousType.set(executionArn, type);
      if (type === 'WaitStateEntered') {
        if (lastWait.get(executionArn) === state) return;
        lastWait.set(executionArn, state);
        return line('…', state);
      }
      if (type === 'TaskStateEntered') {
        if (afterWait) return;
        lastWait.delete(executionArn);
        return line('▶', state);
      }
      if (options.verbose && (type === 'ChoiceStateEntered' || type === 'PassStateEntered')) return line('·', state);
      return;
    }
    if (type === 'TaskStateExited' && event.stateExitedEventDetails?.name === 'ShiftTraffic') {
      const out = safeJson(event.stateExitedEventDetails.output) as { traffic?: { percent?: number }; slots?: { idle?: string } } | undefined;
      return line(' ', `  ${out?.traffic?.percent ?? '?'}% of production traffic on ${out?.slots?.idle ?? 'the new release'}`);
    }
    if (type === 'TaskFailed' || type === 'LambdaFunctionFailed') {
      const d = event.taskFailedEventDetails ?? event.lambdaFunctionFailedEventDetails;
      return line('✗', `${d?.error ?? 'error'}: ${causeText(d?.cause)}`);
    }
    if (type === 'ExecutionSucceeded') {
      const out = safeJson(event.executionSucceededEventDetails?.output);
      return line('✔', `SUCCEEDED ${typeof out === 'object' && out && 'message' in out ? String((out as { message: unknown }).message) : ''}`);
    }
    if (type === 'ExecutionFailed') {
      const d = event.executionFailedEventDetails;
      return line('✘', `FAILED ${d?.error ?? ''}: ${causeText(d?.cause)}`);
    }
    if (type === 'ExecutionAborted') return line('■', 'ABORTED');
    if (type === 'ExecutionTimedOut') return line('⏱', 'TIMED OUT');
  };
}

/**
 * `: rollback (alarm:hello-world-5xx): <reason>` for an execution whose input names a `reason` (a rollback:
 * lib/domain/rollback-input.ts), so a rollback that an alarm started says which alarm and why; else ''.
 */
function startReason(input: string | undefined): string {
  const parsed = safeJson(input);
  if (typeof parsed !== 'object' || parsed === null) return '';
  const { reason, trigger } = parsed as { reason?: unknown; trigger?: { actor?: unknown; source?: unknown } };
  if (typeof reason !== 'string' || reason.trim() === '') return '';
  const by = typeof trigger?.actor === 'string' ? trigger.actor : typeof trigger?.source === 'string' ? trigger.source : undefined;
  const text = reason.replace(/\s+/g, ' ').trim();
  return `: rollback${by ? ` (${by})` : ''}: ${text.length > 300 ? `${text.slice(0, 299)}…` : text}`;
}

function safeJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}
