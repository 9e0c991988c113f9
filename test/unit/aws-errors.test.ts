/**
 * lib/aws/errors.ts: SDK errors classified by the SDK's own rules, and named by the call that failed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceNotFoundException } from '@aws-sdk/client-ecs';
import { isRetryableAwsError, withRetryClassification } from '../../lib/aws/errors';
import { sdkError, throttlingError } from '../helpers/sdk-mocks';

const failWith = (err: Error) => () => Promise.reject(err);

describe('withRetryClassification', () => {
  it('a retryable error becomes Cutover.Transient naming the call: `<what>: <name>: <message>`', async () => {
    await assert.rejects(withRetryClassification(failWith(throttlingError('ecs')), 'ECS UpdateService svc (cluster c)'), {
      name: 'Cutover.Transient',
      message: 'ECS UpdateService svc (cluster c): ThrottlingException: Rate exceeded',
    });
  });

  it('the SDK’s TimeoutError (a request timeout) is retryable', async () => {
    const timeout = Object.assign(new Error('a request has exceeded the configured 5000 ms requestTimeout.'), { name: 'TimeoutError' });
    assert.equal(isRetryableAwsError(timeout), true);
    await assert.rejects(withRetryClassification(failWith(timeout), 'ECS DescribeServices svc'), { name: 'Cutover.Transient', message: /^ECS DescribeServices svc: TimeoutError: / });
  });

  it('another SDK error keeps its object and class, its message prefixed with `<what> failed: <name>: `', async () => {
    const original = sdkError(ServiceNotFoundException, 'Service not found.');
    const err = await withRetryClassification(failWith(original), 'ECS UpdateService svc (cluster c)').catch((e: unknown) => e);
    assert.equal(err, original);
    assert.ok(err instanceof ServiceNotFoundException);
    assert.equal(original.message, 'ECS UpdateService svc (cluster c) failed: ServiceNotFoundException: Service not found.');
  });

  it('without `what`, and for errors that are not the SDK’s, messages are unchanged', async () => {
    await assert.rejects(withRetryClassification(failWith(throttlingError('ecs'))), { name: 'Cutover.Transient', message: 'ThrottlingException: Rate exceeded' });
    await assert.rejects(withRetryClassification(failWith(sdkError(ServiceNotFoundException, 'Service not found.'))), { message: 'Service not found.' });
    await assert.rejects(withRetryClassification(failWith(new TypeError('x is undefined')), 'ECS UpdateService svc'), { name: 'TypeError', message: 'x is undefined' });
  });
});
