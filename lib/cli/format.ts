/**
 * Text formatting for the operator CLI: aligned tables, times as ISO-8601 plus a relative phrase
 * ("3 min ago"), durations, and one-line shortening of long messages. Pure (no I/O, no clock: every
 * function that needs "now" takes it).
 */

/** A table column: its header and how its cells align. */
export interface Column {
  readonly header: string;
  /** @default 'left' */
  readonly align?: 'left' | 'right';
}

/** Display width of a string: code points, so `…`, `✔`, `→` count as one column. */
export function width(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function pad(text: string, to: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, to - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/**
 * An aligned text table: a header row, then one row per entry; columns separated by two spaces,
 * trailing spaces trimmed. Cells are made one line (newlines become spaces).
 * @param indent prefix of every line @default ''
 */
export function table(columns: readonly Column[], rows: ReadonlyArray<ReadonlyArray<string>>, indent = ''): string {
  const cells = rows.map((row) => columns.map((_, i) => oneLine(row[i] ?? '')));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((r) => width(r[i]!))));
  const line = (values: readonly string[]) =>
    indent +
    values
      .map((v, i) => pad(v, widths[i]!, columns[i]!.align ?? 'left'))
      .join('  ')
      .replace(/\s+$/, '');
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** Aligned `label  value` lines (a record shown vertically). Empty values are skipped. */
export function fields(entries: ReadonlyArray<readonly [string, string | undefined]>, indent = '  '): string {
  const shown = entries.filter((e): e is readonly [string, string] => e[1] !== undefined && e[1] !== '');
  const w = Math.max(0, ...shown.map(([label]) => width(label)));
  return shown
    .map(([label, value]) => {
      const [first, ...rest] = value.split('\n');
      return [`${indent}${pad(label, w, 'left')}  ${first}`, ...rest.map((r) => `${indent}${' '.repeat(w)}  ${r}`)].join('\n');
    })
    .join('\n');
}

/** Newlines and runs of whitespace become one space. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `text` on one line, cut to at most `max` columns with `…` at the end. */
export function shorten(text: string, max: number): string {
  const flat = oneLine(text);
  if (width(flat) <= max) return flat;
  return [...flat].slice(0, Math.max(0, max - 1)).join('').trimEnd() + '…';
}

/**
 * A duration for humans, from milliseconds: `850 ms`, `42 s`, `3 min 12 s`, `2 h 5 min`, `3 d 4 h`.
 * Negative or non-finite values give `—`.
 */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return s % 60 ? `${min} min ${s % 60} s` : `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** Coarse duration for relative phrases: one unit (`42 s`, `3 min`, `2 h`, `5 d`). */
function coarse(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.round(min / 60);
  if (h < 48) return `${h} h`;
  return `${Math.round(h / 24)} d`;
}

/** `3 min ago`, `in 25 min`, `just now` (within a second). Invalid times give `—`. */
export function relativeTime(time: string | Date, now: Date): string {
  const t = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(t.getTime())) return '—';
  const diff = now.getTime() - t.getTime();
  if (Math.abs(diff) < 1000) return 'just now';
  return diff > 0 ? `${coarse(diff)} ago` : `in ${coarse(-diff)}`;
}

/** ISO-8601 to the second, UTC: `2026-03-01T10:04:05Z`. */
export function isoSeconds(time: string | Date): string {
  const t = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(t.getTime())) return String(time);
  return t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `2026-03-01T10:04:05Z (3 min ago)`; `—` when there is no time. */
export function when(time: string | Date | undefined, now: Date): string {
  if (time === undefined || time === '') return '—';
  return `${isoSeconds(time)} (${relativeTime(time, now)})`;
}

/** The first `n` characters of a commit SHA. */
export function shortCommit(commit: string | undefined, n = 7): string {
  return commit ? commit.slice(0, n) : '—';
}

/** JSON for `--json`: two-space indented. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
