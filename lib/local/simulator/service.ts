/**
 * Base of every simulated service: operation dispatch and the service's typed errors.
 */
import { ServiceErrors, type SimServiceName } from './errors';
import type { SimContext } from './util';

/**
 * An operation handler: SDK command input in, SDK command output (without `$metadata`) out.
 * (`never` lets each handler declare its own SDK input type.)
 */
export type OperationHandler = (input: never) => object;

/** Error code AWS returns for an unknown action: JSON protocols vs query protocols. */
const UNKNOWN_OPERATION: Record<SimServiceName, string> = {
  ecs: 'UnknownOperationException',
  secretsmanager: 'UnknownOperationException',
  logs: 'UnknownOperationException',
  elbv2: 'InvalidAction',
  rds: 'InvalidAction',
  cloudwatch: 'InvalidAction',
  sns: 'InvalidAction',
  ecr: 'UnknownOperationException',
};

export abstract class SimulatedService {
  protected readonly errors: ServiceErrors;
  /** Operation name (SDK command name without `Command`) → handler. */
  protected abstract readonly operations: Readonly<Record<string, OperationHandler>>;

  constructor(
    readonly service: SimServiceName,
    protected readonly ctx: SimContext,
  ) {
    this.errors = new ServiceErrors(service);
  }

  /** Names of the operations this service implements, sorted. */
  supportedOperations(): string[] {
    return Object.keys(this.operations).sort();
  }

  /**
   * Run `operation` with `input` against the simulated state.
   * @returns the SDK output shape (without `$metadata`)
   * @throws the SDK's typed exception; for an operation the simulator does not implement, the
   *   service's unknown-operation error naming it and listing the supported ones
   */
  invoke(operation: string, input: unknown): Record<string, unknown> {
    const handler = Object.hasOwn(this.operations, operation) ? this.operations[operation] : undefined;
    if (!handler) {
      this.errors.fail(
        UNKNOWN_OPERATION[this.service],
        `The cutover simulator does not implement ${this.service}:${operation}. Supported: ${this.supportedOperations().join(', ')}.`,
      );
    }
    return handler((input ?? {}) as never) as Record<string, unknown>;
  }

  /** Current simulated time, epoch ms. */
  protected nowMs(): number {
    return this.ctx.clock.nowMs();
  }

  /** `arn:aws:<service>:<region>:<account>:<resource>`. */
  protected arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.ctx.region}:${this.ctx.accountId}:${resource}`;
  }
}
