/**
 * The twin's Lambda service: the real handlers from lambdas/<name>/handler.ts, invoked in-process,
 * with Lambda's invocation semantics where cutover depends on them:
 *  - the event and the result cross a JSON boundary (no shared objects, Dates become strings);
 *  - a thrown error reaches Step Functions with the error's name as `Error` and
 *    `{"errorType","errorMessage","trace"}` (JSON) as `Cause`, as for a Node.js function on AWS.
 */
import { FUNCTIONS, type FunctionName } from '../catalog';

export type Handler = (event: unknown, context?: unknown) => Promise<unknown>;

/** A Lambda-style invocation error: `name` = errorType, `message` = the JSON cause. */
export class LambdaFunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(JSON.stringify({ errorType, errorMessage, trace: [] }));
    this.name = errorType;
  }
}

export class LocalLambda {
  private readonly handlers = new Map<FunctionName, Handler>();
  /** Invocations that have not returned yet (see `settled`). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly listeners = new Set<(call: { name: FunctionName; event: unknown; phase: 'start' | 'end'; realMs: number }) => void>();

  /**
   * Observe invocations: `listener` is called (real time, `performance.now()` ms) when a handler starts
   * and when it ends. For tests that check concurrency. @returns unsubscribe
   */
  onInvoke(listener: (call: { name: FunctionName; event: unknown; phase: 'start' | 'end'; realMs: number }) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  /** ARN the twin uses for a function (`arn:aws:lambda:<region>:<account>:function:cutover-<name>`). */
  arn(name: FunctionName): string {
    return `arn:aws:lambda:${this.region}:${this.accountId}:function:cutover-${name}`;
  }

  /** Function name for an ARN or name, if it is one of cutover's. */
  resolve(arnOrName: string): FunctionName | undefined {
    const fn = FUNCTIONS.find((f) => arnOrName === this.arn(f.name) || arnOrName === `cutover-${f.name}` || arnOrName === f.name);
    return fn?.name;
  }

  /** Load every handler module (dynamic import, so client routing is configured first). */
  async load(): Promise<void> {
    for (const f of FUNCTIONS) {
      const mod = (await import(`../../lambdas/${f.name}/handler.ts`)) as { handler: Handler };
      this.register(f.name, mod.handler);
    }
  }

  /** Use `handler` for function `name` (what `load` does for each real handler; tests use it directly). */
  register(name: FunctionName, handler: Handler): void {
    this.handlers.set(name, handler);
  }

  /**
   * Invoke a function by name or ARN.
   * @throws LambdaFunctionError carrying the handler's error name and message
   */
  async invoke(arnOrName: string, event: unknown): Promise<unknown> {
    const name = this.resolve(arnOrName);
    const handler = name && this.handlers.get(name);
    if (!handler) throw new LambdaFunctionError('ResourceNotFoundException', `Function not found: ${arnOrName}`);
    // The twin is stopping: the invocation never runs and never answers (as if its host went away);
    // the state machine that made it is stopped with the twin, and nothing writes to closed services.
    if (this.closed) return new Promise<never>(() => undefined);
    let result: unknown;
    const input = JSON.parse(JSON.stringify(event ?? null)) as unknown;
    for (const l of this.listeners) l({ name, event: input, phase: 'start', realMs: performance.now() });
    const running = handler(input, { functionName: `cutover-${name}`, awsRequestId: crypto.randomUUID() });
    this.inFlight.add(running);
    try {
      result = await running;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      throw new LambdaFunctionError(e.name || 'Error', e.message);
    } finally {
      this.inFlight.delete(running);
      for (const l of this.listeners) l({ name, event: input, phase: 'end', realMs: performance.now() });
    }
    return result === undefined ? null : JSON.parse(JSON.stringify(result));
  }

  /**
   * Stop taking invocations (later ones never run nor answer), then wait for the running ones as
   * {@link settled} does. The twin calls it first when it stops.
   * @returns what `settled` returns
   */
  close(timeoutMs = 5_000): Promise<boolean> {
    this.closed = true;
    return this.settled(timeoutMs);
  }

  /**
   * Resolves when every invocation running now has returned (or thrown), or after `timeoutMs` real
   * milliseconds, whichever comes first; never rejects. The twin awaits it before it closes the
   * services the handlers call, so a handler still writing (e.g. the alarm function's audit entry
   * after its notification) finishes instead of failing against a closed table.
   * @param timeoutMs upper bound in real ms (default 5,000)
   * @returns true when nothing was running any more, false when the timeout came first
   */
  async settled(timeoutMs = 5_000): Promise<boolean> {
    if (this.inFlight.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = Promise.allSettled([...this.inFlight]).then(() => true as const);
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
