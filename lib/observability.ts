/**
 * The one observability module shared by every Lambda handler: a Powertools logger that writes one
 * JSON object per line (`service: cutover`; level from `POWERTOOLS_LOG_LEVEL`, default INFO), and
 * Powertools Metrics for the DORA metrics (`publishMetrics`, EMF).
 * Handlers add per-invocation keys with `logger.appendKeys(...)` / `logger.resetKeys()`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const logger = new Logger({ serviceName: 'cutover' });

/** Add keys to every log line from now on (e.g. the function's name at module scope). */
export function addPersistentKeys(keys: Record<string, unknown>): void {
  logger.appendPersistentKeys(keys);
}

/** CloudWatch namespace of cutover's metrics (EMF). */
export const METRICS_NAMESPACE = 'Cutover';

/**
 * Publish metric values now as one CloudWatch Embedded Metric Format record (Powertools Metrics):
 * namespace `Cutover`, dimensions `service` (the deployed service) and `environment`. Lambda sends the
 * record to CloudWatch Logs, which turns it into metrics; no PutMetricData call, no extra permission.
 * `POWERTOOLS_METRICS_DISABLED=true` turns it off (the local twin does). Never throws.
 */
export function publishMetrics(service: string, environment: string, values: ReadonlyArray<{ name: string; unit: 'Count' | 'Seconds'; value: number }>): void {
  if (values.length === 0) return;
  try {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service });
    metrics.addDimension('environment', environment);
    for (const v of values) metrics.addMetric(v.name, v.unit === 'Count' ? MetricUnit.Count : MetricUnit.Seconds, v.value);
    metrics.publishStoredMetrics();
  } catch (err) {
    logger.warn('metrics not published', { error: err instanceof Error ? err.message : String(err) });
  }
}
