/**
 * Fault and latency injection for the simulator, per service and operation.
 */
import { awsError, type SimServiceName } from './errors';

export interface FaultSpec {
  readonly service: SimServiceName;
  /** Operation name without `Command` (e.g. `UpdateService`), or `'*'` for every operation of the service. */
  readonly operation: string;
  /**
   * Error code to reject with, e.g. `ThrottlingException`, `Throttling`, `ServiceUnavailable`, or a
   * modelled exception such as `ServiceNotFoundException` (made with the SDK's class). Throttling
   * codes are classified as throttling by `isThrottlingError` from `@smithy/core/retry`.
   * @default no error (a latency-only fault); one of `error` and `latencyMs` is required
   */
  readonly error?: string;
  /** Error message. @default `Rate exceeded` for throttling codes, else `Injected fault: <error>` */
  readonly message?: string;
  /** How many matching calls the fault affects; then it is gone. @default 1 */
  readonly times?: number;
  /** Real milliseconds to wait before answering (or failing) each affected call. @default 0 */
  readonly latencyMs?: number;
}

/** Pending faults, consumed in the order they were injected. */
export class Faults {
  private readonly pending: { spec: FaultSpec; remaining: number }[] = [];

  /**
   * Add a fault.
   * @throws Error when neither `error` nor `latencyMs` is given, or `times` is not a positive integer
   */
  inject(spec: FaultSpec): void {
    const times = spec.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error(`injectFault: times must be a positive integer, got ${times}`);
    if (spec.error === undefined && !(spec.latencyMs !== undefined && spec.latencyMs >= 0)) {
      throw new Error('injectFault: give an error code (e.g. "ThrottlingException") and/or latencyMs >= 0');
    }
    this.pending.push({ spec, remaining: times });
  }

  /** Remove all pending faults. */
  clear(): void {
    this.pending.length = 0;
  }

  /**
   * Apply the first pending fault matching the call (using up one of its `times`): wait its latency,
   * then throw its error, if any.
   */
  async apply(service: SimServiceName, operation: string): Promise<void> {
    const index = this.pending.findIndex((f) => f.spec.service === service && (f.spec.operation === operation || f.spec.operation === '*'));
    if (index < 0) return;
    const fault = this.pending[index]!;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.pending.splice(index, 1);
    const { error, message, latencyMs } = fault.spec;
    if (latencyMs) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (error !== undefined) {
      throw awsError(service, error, message ?? (/throttl|rate|toomany/i.test(error) ? 'Rate exceeded' : `Injected fault: ${error}`));
    }
  }
}
