/**
 * Contracts between the parts of the living twin (issue 3): the live ECS (tasks are child processes),
 * the live load balancer (a real HTTP proxy on loopback) and the local image registry.
 *
 * Everything here runs on loopback. Durations of AWS's own schedule (health check interval, ECS
 * provisioning and restart delays) are simulated seconds: timers of the twin's clock (`SimClock.setTimer`).
 * Durations that bound the application's real work (health check timeout, idle timeout, deregistration
 * delay of requests in flight, container stop timeout) are real seconds, and that work holds the clock
 * (`SimClock.hold`), so it never turns into simulated time.
 */
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';

/**
 * A target of a target group in the twin. ECS tasks run on the host's loopback with a dynamic host
 * port (as with ECS bridge networking and `hostPort: 0`), so a target is `127.0.0.1` plus that port.
 */
export interface LiveTarget {
  /** Target id as DescribeTargetHealth shows it: always `127.0.0.1` in the twin. */
  readonly id: string;
  /** The task's host port (1-65535). */
  readonly port: number;
}

/** Target health as ELBv2 reports it (`TargetHealth.State`), for a registered target. */
export type LiveTargetState = 'initial' | 'healthy' | 'unhealthy' | 'draining';

/**
 * What the live ECS needs from the live load balancer: RegisterTargets / DeregisterTargets semantics.
 * See "Target groups for your Application Load Balancers" (health checks, deregistration delay) in the
 * Elastic Load Balancing User Guide.
 */
export interface TargetRegistry {
  /**
   * RegisterTargets: the target starts in `initial`; the load balancer health-checks it with the target
   * group's settings and sends it requests once `healthy`. Registering a registered target is a no-op.
   * @throws Error when the target group does not exist
   */
  register(targetGroupArn: string, target: LiveTarget): void;
  /**
   * DeregisterTargets: the target turns `draining` at once (no new requests; requests in flight finish),
   * and is removed when it has no request in flight or when the target group's deregistration delay
   * (real seconds: it bounds the application's answers) has passed, whichever comes first.
   * @returns resolves when the target has been removed (at once if it was not registered)
   */
  deregister(targetGroupArn: string, target: LiveTarget): Promise<void>;
  /** Current state of a target; `undefined` when it is not registered (or has been removed). */
  state(targetGroupArn: string, target: LiveTarget): LiveTargetState | undefined;
}

/** What a container of an image runs in the twin (the image's ENTRYPOINT/CMD, working dir and ENV). */
export interface LocalImage {
  /** Default command (argv), run when the task definition and overrides give none. */
  readonly command: readonly string[];
  /** Absolute working directory of the process. */
  readonly cwd: string;
  /** The image's ENV; the task definition's `environment` and overrides take precedence. */
  readonly environment?: Readonly<Record<string, string>>;
}

/** The twin's container registry: image reference (`repo:tag`) → what it runs. */
export interface ImageRegistry {
  /** @returns undefined when no such image was pushed (a task of it fails with CannotPullContainerError) */
  resolve(image: string): LocalImage | undefined;
}

/**
 * How an AWS service of the twin (the load balancer) publishes its metrics to the twin's CloudWatch,
 * e.g. `publish('AWS/ApplicationELB', [{ MetricName: 'RequestCount', Dimensions, Timestamp, Value: 1, Unit: 'Count' }])`.
 * `Timestamp` is simulated time. Unlike the PutMetricData API, `AWS/` namespaces are allowed here.
 */
export type MetricPublisher = (namespace: string, data: MetricDatum[]) => void;
