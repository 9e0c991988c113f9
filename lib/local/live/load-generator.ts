/**
 * Steady traffic for the living twin: a load generator that sends requests to the production
 * listener while a deployment runs, and counts the outcomes per release (by the `x-app-version`
 * response header the sample application sets; load-balancer errors carry no such header and count
 * under {@link LB_RELEASE}).
 *
 * Half of the requests (by default) are writes (`POST /orders`); the ids the application acknowledged
 * (201) are kept, so that a scenario can check that no acknowledged write is missing from the database
 * after a step (see {@link LoadGenerator.acknowledgedIds}).
 */
import { setTimeout as delay } from 'node:timers/promises';

/** Release name under which responses without `x-app-version` (load-balancer errors) are counted. */
export const LB_RELEASE = 'load balancer';

/** Outcome counts of requests. `sent` = `ok` + `clientErrors` + `serverErrors` + `failed` (+ in flight). */
export interface RequestCounts {
  sent: number;
  /** 2xx responses. */
  ok: number;
  /** 4xx responses. */
  clientErrors: number;
  /** 5xx responses, from the application or the load balancer (502/503/504). */
  serverErrors: number;
  /** Requests that got no HTTP response at all (connection refused or reset, timeout). */
  failed: number;
}

/** Figures at one moment: totals, per release, and the last error seen. */
export interface LoadFigures {
  total: RequestCounts;
  /** Keyed by the `x-app-version` of the response (e.g. `v2`), or {@link LB_RELEASE}. */
  byRelease: Record<string, RequestCounts>;
  /** The last network error or 5xx status line, for diagnostics. */
  lastError?: string;
}

export interface LoadGeneratorOptions {
  /** Base URL of the production listener, e.g. `http://127.0.0.1:4781`. */
  readonly url: string;
  /** Requests started per real second. @default 40 */
  readonly ratePerSecond?: number;
  /** Requests in flight at most; when reached, the generator waits instead of piling up. @default 32 */
  readonly concurrency?: number;
  /** Share of requests that are writes (`POST /orders`), 0-1; the rest are `GET /`. @default 0.5 */
  readonly writeRatio?: number;
  /** Real milliseconds before a request counts as failed. @default 10000 */
  readonly timeoutMs?: number;
}

const emptyCounts = (): RequestCounts => ({ sent: 0, ok: 0, clientErrors: 0, serverErrors: 0, failed: 0 });

/** Subtract two counts (b - a), e.g. figures of one step. */
export function countsBetween(a: RequestCounts | undefined, b: RequestCounts | undefined): RequestCounts {
  const x = a ?? emptyCounts();
  const y = b ?? emptyCounts();
  return {
    sent: y.sent - x.sent,
    ok: y.ok - x.ok,
    clientErrors: y.clientErrors - x.clientErrors,
    serverErrors: y.serverErrors - x.serverErrors,
    failed: y.failed - x.failed,
  };
}

/** Figures of the requests between two {@link LoadGenerator.figures} readings (per release and total). */
export function figuresBetween(before: LoadFigures, after: LoadFigures): LoadFigures {
  const releases = new Set([...Object.keys(before.byRelease), ...Object.keys(after.byRelease)]);
  const byRelease: Record<string, RequestCounts> = {};
  for (const r of releases) {
    const c = countsBetween(before.byRelease[r], after.byRelease[r]);
    if (c.sent > 0) byRelease[r] = c;
  }
  return { total: countsBetween(before.total, after.total), byRelease, lastError: after.lastError };
}

/** One line such as `sent 412, 2xx 412, 5xx 0, failed 0 (v1 380 · v2 32)`. */
export function formatFigures(f: LoadFigures): string {
  const parts = Object.entries(f.byRelease)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([r, c]) => `${r} ${c.sent}${c.serverErrors ? ` (${c.serverErrors} 5xx)` : ''}`);
  const t = f.total;
  return `sent ${t.sent}, 2xx ${t.ok}, 5xx ${t.serverErrors}, failed ${t.failed}${t.clientErrors ? `, 4xx ${t.clientErrors}` : ''}${parts.length ? ` (${parts.join(' · ')})` : ''}`;
}

export class LoadGenerator {
  private readonly rate: number;
  private readonly concurrency: number;
  private readonly writeRatio: number;
  private readonly timeoutMs: number;
  private readonly total = emptyCounts();
  private readonly byRelease = new Map<string, RequestCounts>();
  private readonly acked: number[] = [];
  private lastError?: string;
  private inFlight = new Set<Promise<void>>();
  private running = false;
  private loop?: Promise<void>;
  private sequence = 0;

  /** @throws Error when a rate, concurrency, ratio or timeout is out of range */
  constructor(private readonly options: LoadGeneratorOptions) {
    this.rate = options.ratePerSecond ?? 40;
    this.concurrency = options.concurrency ?? 32;
    this.writeRatio = options.writeRatio ?? 0.5;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (!(this.rate > 0 && this.rate <= 10_000)) throw new Error(`ratePerSecond must be 1-10000 requests per second, got ${this.rate}`);
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1)) throw new Error(`concurrency must be a whole number >= 1, got ${this.concurrency}`);
    if (!(this.writeRatio >= 0 && this.writeRatio <= 1)) throw new Error(`writeRatio must be 0-1, got ${this.writeRatio}`);
    if (!(this.timeoutMs > 0)) throw new Error(`timeoutMs must be > 0 real milliseconds, got ${this.timeoutMs}`);
  }

  /** Start sending (no-op when already running). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stop sending and wait for the requests in flight to finish. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Figures so far (a copy). */
  figures(): LoadFigures {
    return {
      total: { ...this.total },
      byRelease: Object.fromEntries([...this.byRelease].map(([r, c]) => [r, { ...c }])),
      lastError: this.lastError,
    };
  }

  /** Ids of the orders the application acknowledged (201), in acknowledgement order (a copy). */
  acknowledgedIds(): number[] {
    return [...this.acked];
  }

  /** Wait until at least `n` more writes have been acknowledged, or `timeoutMs` real ms passed. */
  async waitForWrites(n: number, timeoutMs = 30_000): Promise<boolean> {
    const target = this.acked.length + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < target && Date.now() < deadline) await delay(10);
    return this.acked.length >= target;
  }

  private async run(): Promise<void> {
    const started = performance.now();
    let issued = 0;
    while (this.running) {
      const due = Math.floor(((performance.now() - started) / 1000) * this.rate);
      while (issued < due && this.inFlight.size < this.concurrency && this.running) {
        issued++;
        const p = this.one().finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
      if (issued < due && this.inFlight.size >= this.concurrency) issued = due; // shed load rather than burst later
      await delay(5);
    }
  }

  private async one(): Promise<void> {
    const write = Math.random() < this.writeRatio;
    const n = ++this.sequence;
    this.total.sent++;
    let release = LB_RELEASE;
    try {
      const res = await fetch(write ? `${this.options.url}/orders` : `${this.options.url}/`, {
        method: write ? 'POST' : 'GET',
        headers: write ? { 'content-type': 'application/json' } : undefined,
        body: write ? JSON.stringify({ item: `load-${n}` }) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      release = res.headers.get('x-app-version') ?? LB_RELEASE;
      const text = await res.text();
      const counts = this.release(release);
      counts.sent++;
      if (res.status >= 200 && res.status < 300) {
        this.total.ok++;
        counts.ok++;
        if (write) {
          const id = Number((JSON.parse(text) as { id?: unknown }).id);
          if (Number.isInteger(id)) this.acked.push(id);
        }
      } else if (res.status >= 500) {
        this.total.serverErrors++;
        counts.serverErrors++;
        this.lastError = `${res.status} from ${release}: ${text.slice(0, 200)}`;
      } else {
        this.total.clientErrors++;
        counts.clientErrors++;
      }
    } catch (err) {
      this.total.failed++;
      const counts = this.release(release);
      counts.sent++;
      counts.failed++;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      this.lastError = `${(err as Error).name}: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
    }
  }

  private release(name: string): RequestCounts {
    let c = this.byRelease.get(name);
    if (!c) this.byRelease.set(name, (c = emptyCounts()));
    return c;
  }
}
