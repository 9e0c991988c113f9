/**
 * The scan gate's decision (lib/domain/scan-gate.ts) and its ECR read (lib/aws/ecr.ts readScan /
 * scanGate, DescribeImageScanFindings mocked): basic and Amazon Inspector enhanced findings.
 */
import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeImageScanFindingsCommand, ScanNotFoundException } from '@aws-sdk/client-ecr';
import { ecrMock, resetSdkMocks, sdkError } from '../helpers/sdk-mocks';
import { decideScan } from '../../lib/domain/scan-gate';
import { readScan, scanGate } from '../../lib/aws/ecr';

const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/hello-world@sha256:${'ab'.repeat(32)}`;

describe('decideScan', () => {
  const done = (counts: Record<string, number>, findings: Array<{ id: string; severity: string }> = []) => ({ status: 'COMPLETE', counts, findings });
  it('refuses findings above maxSeverity, naming the counts and the worst ids; passes at or under it', () => {
    const refused = decideScan(done({ CRITICAL: 1, HIGH: 2, LOW: 4 }, [{ id: 'CVE-2024-3', severity: 'HIGH' }, { id: 'CVE-2024-9', severity: 'CRITICAL' }, { id: 'CVE-2024-1', severity: 'LOW' }]), 'HIGH', IMAGE);
    assert.equal(refused.status, 'refused');
    assert.deepEqual(refused.top, ['CVE-2024-9']);
    assert.match(refused.message, /found 1 CRITICAL, 2 HIGH, 4 LOW: above the environment's maxSeverity HIGH \(CVE-2024-9\); nothing was changed$/);
    assert.equal(decideScan(done({ HIGH: 2, LOW: 4 }), 'HIGH', IMAGE).status, 'passed');
    assert.equal(decideScan(done({}), 'INFORMATIONAL', IMAGE).status, 'passed');
    const medium = decideScan(done({ HIGH: 1, MEDIUM: 1 }, [{ id: 'CVE-B', severity: 'MEDIUM' }, { id: 'CVE-A', severity: 'HIGH' }]), 'LOW', IMAGE);
    assert.deepEqual(medium.top, ['CVE-A', 'CVE-B'], 'worst first');
    assert.equal(decideScan({ status: 'ACTIVE', counts: { CRITICAL: 1 }, findings: [] }, 'CRITICAL', IMAGE).status, 'passed', 'enhanced scanning: ACTIVE has results; CRITICAL lets everything through');
  });
  it('waits while the scan runs or is not found; fails when the scan cannot give a result', () => {
    for (const status of ['IN_PROGRESS', 'PENDING', 'NOT_FOUND']) assert.equal(decideScan({ status, counts: {}, findings: [] }, 'HIGH', IMAGE).status, 'pending', status);
    const failed = decideScan({ status: 'UNSUPPORTED_IMAGE', description: 'The operating system is not supported.', counts: {}, findings: [] }, 'HIGH', IMAGE);
    assert.equal(failed.status, 'failed');
    assert.match(failed.message, /cannot give a result \(UNSUPPORTED_IMAGE: The operating system is not supported\)/);
  });
});

describe('readScan / scanGate (ECR mocked)', () => {
  beforeEach(() => resetSdkMocks());
  it('reads basic and enhanced findings by digest; no scan yet is NOT_FOUND', async () => {
    ecrMock.on(DescribeImageScanFindingsCommand).resolvesOnce({
      imageScanStatus: { status: 'ACTIVE' },
      imageScanFindings: {
        findingSeverityCounts: { CRITICAL: 1, MEDIUM: 1 },
        findings: [{ name: 'CVE-2024-0001', severity: 'MEDIUM' }],
        enhancedFindings: [{ severity: 'CRITICAL', packageVulnerabilityDetails: { vulnerabilityId: 'CVE-2024-3094', source: 'NVD' } }],
      },
    }).rejectsOnce(sdkError(ScanNotFoundException, 'no scan'));
    const report = await readScan(IMAGE);
    assert.deepEqual(report, { status: 'ACTIVE', counts: { CRITICAL: 1, MEDIUM: 1 }, findings: [{ id: 'CVE-2024-0001', severity: 'MEDIUM' }, { id: 'CVE-2024-3094', severity: 'CRITICAL' }] });
    assert.deepEqual(ecrMock.commandCalls(DescribeImageScanFindingsCommand)[0]!.args[0].input, { registryId: '123456789012', repositoryName: 'hello-world', imageId: { imageDigest: `sha256:${'ab'.repeat(32)}` }, maxResults: 1000 });
    assert.deepEqual(await readScan(IMAGE), { status: 'NOT_FOUND', counts: {}, findings: [] });
  });
  it('scanGate: no gate passes without a call; an image of another registry fails the gate', async () => {
    assert.equal((await scanGate({ image: IMAGE, scan: null })).status, 'passed');
    const other = await scanGate({ image: 'ghcr.io/acme/app:v1', scan: { maxSeverity: 'HIGH', waitSeconds: 600 } });
    assert.equal(other.status, 'failed');
    assert.match(other.message, /not an Amazon ECR image pinned by digest/);
    assert.equal(ecrMock.commandCalls(DescribeImageScanFindingsCommand).length, 0);
  });
});
