/**
 * The scan gate (issue 12 part 2): does a release's image carry vulnerability findings above the
 * environment's `scan.maxSeverity`? Pure: the ECR scan result in, a decision out.
 *
 * ECR reports a scan through DescribeImageScanFindings (ECR API reference): `imageScanStatus.status`
 * (basic scanning: IN_PROGRESS | COMPLETE | FAILED | UNSUPPORTED_IMAGE …; enhanced scanning with
 * Amazon Inspector: PENDING | ACTIVE | SCAN_ELIGIBILITY_EXPIRED | FINDINGS_UNAVAILABLE …),
 * `imageScanFindings.findingSeverityCounts`, and the findings themselves — `findings[]` (basic:
 * `name` is the CVE id) or `enhancedFindings[]` (Inspector: `packageVulnerabilityDetails.vulnerabilityId`).
 */

/** Severities, lowest first. ECR's `UNDEFINED` (no score) ranks with INFORMATIONAL. */
export const SEVERITIES = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What ECR said about the image's scan (lib/aws/ecr.ts `readScan`). */
export interface ScanReport {
  /** `imageScanStatus.status`, or `NOT_FOUND` when ECR has no scan of the image (yet). */
  readonly status: string;
  readonly description?: string;
  /** Findings per severity (`findingSeverityCounts`). */
  readonly counts: Readonly<Record<string, number>>;
  /** Findings (id and severity), any order; only used to name the worst ones. */
  readonly findings: ReadonlyArray<{ readonly id: string; readonly severity: string }>;
}

/** The gate's answer (it is also what the state machine reads: `$.scan.status`). */
export interface ScanDecision {
  /** `passed`: at or under the threshold; `refused`: findings above it; `pending`: no result yet; `failed`: the scan cannot give one. */
  readonly status: 'passed' | 'refused' | 'pending' | 'failed';
  readonly message: string;
  readonly counts: Readonly<Record<string, number>>;
  /** Up to 5 finding ids above the threshold, worst first. */
  readonly top: string[];
}

const DONE = new Set(['COMPLETE', 'ACTIVE']);
const WAITING = new Set(['IN_PROGRESS', 'PENDING', 'NOT_FOUND']);

const rank = (severity: string): number => {
  const i = SEVERITIES.indexOf(severity as Severity);
  return i < 0 ? 0 : i;
};

/**
 * Decide on a scan report: findings of a severity above `maxSeverity` refuse the release (naming the
 * counts and up to 5 finding ids, worst first); a scan still running (or not found yet) is pending; a
 * scan that cannot complete (FAILED, UNSUPPORTED_IMAGE, SCAN_ELIGIBILITY_EXPIRED, FINDINGS_UNAVAILABLE,
 * LIMIT_EXCEEDED …) fails the gate — a gate that cannot see the findings does not let the release through.
 * @param image the image reference, for the message
 * @param maxSeverity the highest severity a release may carry
 */
export function decideScan(report: ScanReport, maxSeverity: Severity, image: string): ScanDecision {
  const counts = { ...report.counts };
  if (WAITING.has(report.status)) {
    return { status: 'pending', message: `the scan of ${image} has no result yet (${report.status === 'NOT_FOUND' ? 'no scan found' : report.status})`, counts, top: [] };
  }
  if (!DONE.has(report.status)) {
    return {
      status: 'failed',
      message: `the scan of ${image} cannot give a result (${report.status}${report.description ? `: ${report.description.replace(/\.+$/, '')}` : ''}), so the release is not deployed: fix the scan or remove scan from the environment`,
      counts,
      top: [],
    };
  }
  const limit = rank(maxSeverity);
  const above = Object.entries(counts).filter(([severity, n]) => n > 0 && rank(severity) > limit);
  const summary = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => rank(b[0]) - rank(a[0]))
    .map(([severity, n]) => `${n} ${severity}`)
    .join(', ');
  if (above.length === 0) {
    return { status: 'passed', message: `the scan of ${image} found ${summary || 'no vulnerabilities'}; nothing above ${maxSeverity}`, counts, top: [] };
  }
  const top = [...report.findings]
    .filter((f) => rank(f.severity) > limit)
    .sort((a, b) => rank(b.severity) - rank(a.severity) || a.id.localeCompare(b.id))
    .map((f) => f.id)
    .filter((id, i, all) => all.indexOf(id) === i)
    .slice(0, 5);
  return {
    status: 'refused',
    message: `the scan of ${image} found ${summary}: above the environment's maxSeverity ${maxSeverity}${top.length ? ` (${top.join(', ')})` : ''}; nothing was changed`,
    counts,
    top,
  };
}
