/**
 * The twin's HTTP server (lib/local/http.ts) while the twin is not ready, and when a route fails:
 * every endpoint answers 503 with Retry-After and what the twin waits for; the Step Functions API in
 * AWS's JSON 1.0 error shape (`ServiceUnavailable`), which the SDK (and the AWS CLI) retry; an
 * unexpected error is logged and answered with what failed, never a bare 500.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { Readiness, startHttpServer, STARTING_RETRY_AFTER_SECONDS, type HttpRoutes } from '../../lib/local/http';

const run = promisify(execFile);

/** Routes that answer like a twin that is up (or throw, with `fail`). */
function routes(fail?: Error): HttpRoutes {
  const boom = async (): Promise<never> => {
    throw fail!;
  };
  return {
    webhook: fail ? boom : async () => ({ statusCode: 202, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }),
    events: fail ? boom : async () => ({ statusCode: 200, body: { results: [] } }),
    stepFunctions: fail
      ? boom
      : async () => ({ statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify({ stateMachines: [] }) }),
    index: () => {
      if (fail) throw fail;
      return { service: 'test' };
    },
  };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(r: HttpRoutes, readiness?: Readiness): Promise<{ url: string; logged: string[] }> {
  const logged: string[] = [];
  const server = await startHttpServer(0, r, { readiness, log: (line) => logged.push(line) });
  close = server.close;
  return { url: server.url, logged };
}

const sfnCall = (url: string, target = 'AWSStepFunctions.ListStateMachines') =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target }, body: '{}' });

describe('the twin HTTP server before it is ready', () => {
  it('answers every endpoint with 503, Retry-After and a JSON body naming what it waits for', async () => {
    // Prepare
    const readiness = new Readiness();
    readiness.waitFor('db', 'PostgreSQL for instance hello-world-production');
    readiness.waitFor('services', 'the initial release');
    readiness.done('db');
    readiness.waitFor('services', 'the initial release (now: starting 2 task(s) of v1)');
    const { url } = await serve(routes(), readiness);

    // Act
    const answers = await Promise.all([
      fetch(`${url}/`),
      fetch(`${url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      fetch(`${url}/nowhere`),
    ]);

    // Assess
    for (const res of answers) {
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), String(STARTING_RETRY_AFTER_SECONDS));
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.status, 'starting');
      assert.deepEqual(body.waitingFor, ['the initial release (now: starting 2 task(s) of v1)']);
      assert.equal(body.retryAfterSeconds, STARTING_RETRY_AFTER_SECONDS);
      assert.match(String(body.message), /The cutover local twin is starting; nothing was done with this request\. Retry in 2 s \(waiting for the initial release/);
    }
  });

  it('answers the Step Functions API with 503 in the AWS JSON 1.0 error shape (ServiceUnavailable)', async () => {
    // Prepare
    const readiness = new Readiness();
    readiness.waitFor('sm', 'the state machines');
    const { url } = await serve(routes(), readiness);

    // Act
    const res = await sfnCall(url);

    // Assess
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('content-type'), 'application/x-amz-json-1.0');
    assert.equal(res.headers.get('x-amzn-errortype'), 'ServiceUnavailable');
    assert.ok(res.headers.get('x-amzn-requestid'));
    assert.equal(res.headers.get('retry-after'), String(STARTING_RETRY_AFTER_SECONDS));
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.__type, 'ServiceUnavailable');
    assert.match(String(body.message), /starting.*waiting for the state machines/);
    assert.deepEqual(body.waitingFor, ['the state machines']);
  });

  it('the SDK sees a retryable ServiceUnavailable, and succeeds by retrying once the twin is ready', async () => {
    // Prepare
    const readiness = new Readiness();
    const { url } = await serve(routes(), readiness);
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const once = new SFNClient({ endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const retrying = new SFNClient({ endpoint: url, region: 'us-east-1', credentials, maxAttempts: 10 });

    // Act
    const error = await once.send(new ListStateMachinesCommand({})).catch((err: unknown) => err as Error & { $metadata?: { httpStatusCode?: number } });
    setTimeout(() => readiness.ready(), 300);
    const listed = await retrying.send(new ListStateMachinesCommand({}));

    // Assess
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'ServiceUnavailable');
    assert.equal(error.$metadata?.httpStatusCode, 503);
    assert.match(error.message, /The cutover local twin is starting/);
    assert.deepEqual(listed.stateMachines, []);
    assert.ok((listed.$metadata.attempts ?? 1) > 1, `the SDK retried (${listed.$metadata.attempts} attempts)`);
    once.destroy();
    retrying.destroy();
  });

  it('the AWS CLI retries a 503 until the twin is ready (skipped without an `aws` on PATH)', async (t) => {
    // Prepare
    const aws = await run('sh', ['-c', 'command -v aws']).then((r) => r.stdout.trim(), () => '');
    if (!aws) return t.skip('the AWS CLI is not installed');
    const readiness = new Readiness();
    const { url } = await serve(routes(), readiness);
    setTimeout(() => readiness.ready(), 500);

    // Act
    const { stdout } = await run(aws, ['stepfunctions', 'list-state-machines', '--endpoint-url', url, '--output', 'json'], {
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: '/nonexistent/cutover-test/config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/cutover-test/credentials',
        AWS_MAX_ATTEMPTS: '10',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      },
    });

    // Assess
    assert.deepEqual(JSON.parse(stdout), { stateMachines: [] });
  });

  it('serves once ready, and answers 503 (stopping) again once the twin stops', async () => {
    // Prepare
    const readiness = new Readiness();
    const { url } = await serve(routes(), readiness);

    // Act
    readiness.ready();
    const served = await fetch(`${url}/webhooks/github`, { method: 'POST', body: '{}' });
    readiness.stopping();
    const stopping = await fetch(`${url}/webhooks/github`, { method: 'POST', body: '{}' });

    // Assess
    assert.equal(served.status, 202);
    assert.equal(stopping.status, 503);
    assert.ok(Number(stopping.headers.get('retry-after')) > 0);
    const body = (await stopping.json()) as Record<string, unknown>;
    assert.equal(body.status, 'stopping');
    assert.match(String(body.message), /is stopping; nothing was done with this request/);
  });
});

describe('the twin HTTP server when a route fails', () => {
  it('logs the error and answers 500 with what failed, on every endpoint; the Step Functions API as InternalFailure', async () => {
    // Prepare
    const { url, logged } = await serve(routes(new TypeError("Cannot read properties of undefined (reading 'invoke')")));

    // Act
    const webhook = await fetch(`${url}/webhooks/github`, { method: 'POST', body: '{}' });
    const events = await fetch(`${url}/events`, { method: 'POST', body: '{}' });
    const index = await fetch(`${url}/`);
    const sfn = await sfnCall(url, 'AWSStepFunctions.StartExecution');

    // Assess
    for (const [res, what] of [
      [webhook, 'POST /webhooks/github'],
      [events, 'POST /events'],
      [index, 'GET /'],
    ] as const) {
      assert.equal(res.status, 500);
      const body = (await res.json()) as { message: string };
      assert.equal(body.message, `The cutover local twin failed to handle ${what}: TypeError: Cannot read properties of undefined (reading 'invoke'). This is a bug of the twin; its output has this line too.`);
      assert.doesNotMatch(body.message, /\n\s+at /, 'no stack trace');
    }
    assert.equal(sfn.status, 500);
    assert.equal(sfn.headers.get('x-amzn-errortype'), 'InternalFailure');
    const sfnBody = (await sfn.json()) as { __type: string; message: string };
    assert.equal(sfnBody.__type, 'InternalFailure');
    assert.match(sfnBody.message, /failed to handle POST \/: TypeError: Cannot read properties/);
    assert.equal(logged.length, 4, logged.join('\n'));
    assert.match(logged[0]!, /^cutover twin: POST \/webhooks\/github answered 500: The cutover local twin failed to handle POST \/webhooks\/github: TypeError/);
  });

  it('logs a 5xx a route answers itself, with its message', async () => {
    // Prepare
    const r = routes();
    r.webhook = async () => ({ statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Internal Server Error: the github-webhook function failed (Error: boom).' }) });
    const { url, logged } = await serve(r);

    // Act
    const res = await fetch(`${url}/webhooks/github`, { method: 'POST', body: '{}' });

    // Assess
    assert.equal(res.status, 500);
    assert.deepEqual(logged, ['cutover twin: POST /webhooks/github answered 500: Internal Server Error: the github-webhook function failed (Error: boom).']);
  });
});
