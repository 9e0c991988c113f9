/**
 * Lambda function URLs with AWS_IAM auth, both ends: the CLI's SigV4 signer (lib/aws/function-url.ts)
 * and the twin's verifier (lib/local/function-url.ts) — a signed request verifies; a changed body,
 * another secret, another service or region, an old date or no Authorization are refused with
 * Lambda's `403 {"Message":"Forbidden"}`; the access key names the caller (the twin account's
 * `principals`, else the twin's IAM user of that name). Over HTTP: `invokeFunctionUrl` against the
 * twin's HTTP server on 127.0.0.1 (lib/local/http.ts `POST /lambda-url/<name>/`).
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { LambdaFunctionURLEventWithIAMAuthorizer } from 'aws-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { configureClients, resetClients, signingContext } from '../../lib/aws/clients';
import { functionUrlRegion, invokeFunctionUrl, Sha256, signFunctionUrlRequest, type SignedFunctionUrlRequest } from '../../lib/aws/function-url';
import { ConfigError } from '../../lib/config/load';
import {
  fromFunctionUrlResult,
  handleFunctionUrlRequest,
  principalFor,
  verifyFunctionUrlRequest,
  type FunctionUrlHttpRequest,
  type FunctionUrlHandlingOptions,
} from '../../lib/local/function-url';
import { startHttpServer, type HttpRoutes } from '../../lib/local/http';
import { parseTwinAccount } from '../../lib/local/live/account';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const TWIN_URL = 'http://127.0.0.1:4780/lambda-url/approval/';
const NOW = new Date('2031-05-01T10:00:00.000Z');
const LOCAL = { accessKeyId: 'local', secretAccessKey: 'local' };
const ALICE = { accessKeyId: 'AKIAALICE', secretAccessKey: 'alice-secret' };
const ALICE_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/release-managers/alice`;
/** The twin account's principals: alice (her own secret) and the CLI's default key `local`. */
const PRINCIPALS = { [ALICE.accessKeyId]: { arn: ALICE_ARN, secretAccessKey: ALICE.secretAccessKey }, local: { arn: `arn:aws:iam::${ACCOUNT}:user/local` } };
const BODY = { service: 'hello-world', environment: 'production', decision: 'approve', operator: 'ada', comment: 'looks good' };

const auth = { region: REGION, accountId: ACCOUNT, principals: PRINCIPALS, clock: () => NOW.getTime() };

/** The request the twin's HTTP server would receive for a signed request. */
function received(signed: SignedFunctionUrlRequest, change: { body?: string; headers?: Record<string, string | undefined> } = {}): FunctionUrlHttpRequest {
  const headers: Record<string, string | undefined> = { ...signed.headers, 'content-length': String(Buffer.byteLength(signed.body)), 'user-agent': 'cutover-test', ...change.headers };
  return { method: signed.method, url: `${signed.url.pathname}${signed.url.search}`, headers, body: Buffer.from(change.body ?? signed.body, 'utf8'), sourceIp: '127.0.0.1' };
}

const sign = (credentials = LOCAL, region = REGION, url = TWIN_URL, body = JSON.stringify(BODY)) =>
  signFunctionUrlRequest(url, body, { region, credentials }, NOW);

async function refused(request: FunctionUrlHttpRequest, why: RegExp): Promise<void> {
  const verdict = await verifyFunctionUrlRequest(request, auth);
  assert.equal(verdict.ok, false, 'refused');
  assert.match((verdict as { reason: string }).reason, why);
}

describe('function URL signatures: the CLI signs, the twin verifies', () => {
  it('a request signed by the CLI\'s signer verifies, as the twin\'s IAM user of its access key', async () => {
    // Prepare
    const signed = await sign();
    // Act
    const verdict = await verifyFunctionUrlRequest(received(signed), auth);
    // Assess
    assert.deepEqual(verdict.ok && { arn: verdict.caller.arn, accessKeyId: verdict.caller.accessKeyId, accountId: verdict.caller.accountId }, {
      arn: `arn:aws:iam::${ACCOUNT}:user/local`,
      accessKeyId: 'local',
      accountId: ACCOUNT,
    });
    assert.match(signed.headers.authorization!, /^AWS4-HMAC-SHA256 Credential=local\/20310501\/us-east-1\/lambda\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
    assert.equal(signed.headers.host, '127.0.0.1:4780');
    assert.equal(signed.headers['x-amz-date'], '20310501T100000Z');
  });

  it('signs a query string and temporary credentials\' session token too', async () => {
    const signed = await sign({ ...LOCAL, sessionToken: 'token-1' } as typeof LOCAL, REGION, `${TWIN_URL}?dryRun=1&b=2&b=1`);
    assert.equal(signed.headers['x-amz-security-token'], 'token-1');
    assert.match(signed.headers.authorization!, /SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
    assert.equal((await verifyFunctionUrlRequest(received(signed), auth)).ok, true);
    await refused({ ...received(signed), url: '/lambda-url/approval/?dryRun=0&b=2&b=1' }, /signature does not match/);
  });

  it('a listed access key is its principal, verified with its own secret', async () => {
    const signed = await sign(ALICE);
    const verdict = await verifyFunctionUrlRequest(received(signed), auth);
    assert.ok(verdict.ok);
    assert.equal(verdict.caller.arn, ALICE_ARN);
    assert.match(verdict.caller.userId, /^AROA[0-9A-F]{17}:alice$/);
    // The same key signing with the default secret is someone else.
    await refused(received(await sign({ accessKeyId: ALICE.accessKeyId, secretAccessKey: 'local' })), /signature does not match \(access key AKIAALICE, the twin account's secret for it\)/);
    await refused(received(await sign({ accessKeyId: 'AKIAMALLORY', secretAccessKey: 'local' })), /the access key AKIAMALLORY is not one of the twin account's principals \(AKIAALICE, local\)/);
  });

  it('refuses a changed body (with or without a matching content hash)', async () => {
    const signed = await sign();
    const tampered = JSON.stringify({ ...BODY, decision: 'reject' });
    await refused(received(signed, { body: tampered }), /X-Amz-Content-SHA256 header is not the SHA-256 of the body/);
    const { createHash } = await import('node:crypto');
    await refused(received(signed, { body: tampered, headers: { 'x-amz-content-sha256': createHash('sha256').update(tampered).digest('hex') } }), /signature does not match/);
  });

  it('refuses another secret, another service, another region, a changed signed header, an old date and no Authorization', async () => {
    await refused(received(await sign({ accessKeyId: 'local', secretAccessKey: 'not-local' })), /signature does not match \(access key local, the twin account's secret for it\)/);
    await refused(received(await sign(LOCAL, 'eu-west-1')), /region "eu-west-1", the twin runs in "us-east-1"/);
    const s3 = await new SignatureV4({ service: 's3', region: REGION, credentials: LOCAL, sha256: Sha256 }).sign(
      { method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: 4780, path: '/lambda-url/approval/', headers: { host: '127.0.0.1:4780' }, body: '{}' },
      { signingDate: NOW },
    );
    await refused(
      { method: 'POST', url: '/lambda-url/approval/', headers: Object.fromEntries(Object.entries(s3.headers).map(([k, v]) => [k.toLowerCase(), String(v)])), body: Buffer.from('{}') },
      /service "s3", a function URL needs "lambda"/,
    );
    const signed = await sign();
    await refused(received(signed, { headers: { host: '127.0.0.1:9999' } }), /signature does not match/);
    await refused(received(signed, { headers: { authorization: undefined } }), /no Authorization header/);
    await refused(received(signed, { headers: { authorization: 'Bearer abc' } }), /not "AWS4-HMAC-SHA256 Credential=/);
    const late = await verifyFunctionUrlRequest(received(signed), { ...auth, clock: () => NOW.getTime() + 6 * 60_000 });
    assert.match((late as { reason: string }).reason, /more than 5 minutes from the twin's clock/);
  });

  it('answers a refusal as Lambda does: 403 {"Message":"Forbidden"}, x-amzn-ErrorType AccessDeniedException, without calling the function', async () => {
    // Prepare
    let called = 0;
    const options: FunctionUrlHandlingOptions = { ...auth, functionName: 'approval', invoke: async () => void called++ };
    const signed = await sign({ accessKeyId: 'local', secretAccessKey: 'wrong' });
    // Act
    const out = await handleFunctionUrlRequest(received(signed), options);
    // Assess
    assert.equal(out.statusCode, 403);
    assert.deepEqual(JSON.parse(String(out.body)), { Message: 'Forbidden' });
    assert.equal(out.headers['x-amzn-ErrorType'], 'AccessDeniedException');
    assert.match(out.reason!, /signature does not match/);
    assert.equal(called, 0);
  });

  it('gives the function the payload 2.0 event with the verified caller, and answers with its result', async () => {
    // Prepare
    let event: LambdaFunctionURLEventWithIAMAuthorizer | undefined;
    const options: FunctionUrlHandlingOptions = {
      ...auth,
      functionName: 'approval',
      invoke: async (e) => {
        event = e;
        return { statusCode: 409, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ message: 'not waiting' }) };
      },
    };
    const signed = await sign(ALICE);
    // Act
    const out = await handleFunctionUrlRequest(received(signed), options);
    // Assess
    assert.deepEqual({ status: out.statusCode, headers: out.headers, body: JSON.parse(String(out.body)) }, { status: 409, headers: { 'content-type': 'application/json' }, body: { message: 'not waiting' } });
    assert.ok(event);
    assert.equal(event.version, '2.0');
    assert.equal(event.rawPath, '/');
    assert.equal(event.requestContext.http.path, '/');
    assert.equal(event.requestContext.http.method, 'POST');
    assert.equal(event.requestContext.http.sourceIp, '127.0.0.1');
    assert.equal(event.requestContext.accountId, ACCOUNT);
    assert.equal(event.isBase64Encoded, false);
    assert.deepEqual(JSON.parse(event.body!), BODY);
    assert.equal(event.headers['user-agent'], 'cutover-test');
    assert.equal(event.headers['content-type'], 'application/json');
    const { userId, ...iam } = event.requestContext.authorizer.iam;
    assert.deepEqual(iam, { accessKey: ALICE.accessKeyId, accountId: ACCOUNT, callerId: userId, cognitoIdentity: null, principalOrgId: null, userArn: ALICE_ARN });
  });

  it('a function error is a 502 that names what failed', async () => {
    const out = await handleFunctionUrlRequest(received(await sign()), {
      ...auth,
      functionName: 'approval',
      invoke: async () => {
        throw Object.assign(new Error('boom'), { name: 'TypeError' });
      },
    });
    assert.equal(out.statusCode, 502);
    assert.deepEqual(JSON.parse(String(out.body)), { Message: 'Internal Server Error', message: 'the approval function failed (TypeError: boom)' });
  });

  it('maps results as a function URL does: a result without statusCode is a 200 JSON body', () => {
    assert.deepEqual(fromFunctionUrlResult({ ok: true }), { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' });
    assert.deepEqual(fromFunctionUrlResult('hello'), { statusCode: 200, headers: { 'content-type': 'application/json' }, body: 'hello' });
    const binary = fromFunctionUrlResult({ statusCode: 200, body: Buffer.from('hi').toString('base64'), isBase64Encoded: true });
    assert.equal(binary.body.toString(), 'hi');
  });
});

describe('function URL principals (the twin account\'s principals)', () => {
  it('a listed access key is its ARN and secret; an unlisted one the twin\'s IAM user of that name with secret "local"', () => {
    assert.deepEqual(principalFor('AKIAALICE', ACCOUNT, PRINCIPALS), { arn: ALICE_ARN, secretAccessKey: 'alice-secret' });
    assert.deepEqual(principalFor('AKIABOB', ACCOUNT, { AKIABOB: { arn: `arn:aws:iam::${ACCOUNT}:user/bob` } }), { arn: `arn:aws:iam::${ACCOUNT}:user/bob`, secretAccessKey: 'local' });
    assert.equal(principalFor('AKIACAROL', ACCOUNT, PRINCIPALS), undefined, 'an account that lists principals knows no other key');
    assert.deepEqual(principalFor('AKIACAROL', ACCOUNT, {}), { arn: `arn:aws:iam::${ACCOUNT}:user/AKIACAROL`, secretAccessKey: 'local' });
    assert.deepEqual(principalFor('toString', ACCOUNT, {}), { arn: `arn:aws:iam::${ACCOUNT}:user/toString`, secretAccessKey: 'local' });
  });

  it('the account file takes user, role and assumed-role ARNs; secretAccessKey defaults to "local"; none is {}', () => {
    const account = parseTwinAccount({
      principals: {
        AKIAALICE: { arn: ALICE_ARN, secretAccessKey: 'alice-secret' },
        AKIABOB: { arn: `arn:aws:iam::${ACCOUNT}:user/team/bob` },
        AKIADEPLOY: { arn: `arn:aws:iam::${ACCOUNT}:role/deployers` },
      },
    });
    assert.deepEqual(account.principals, {
      AKIAALICE: { arn: ALICE_ARN, secretAccessKey: 'alice-secret' },
      AKIABOB: { arn: `arn:aws:iam::${ACCOUNT}:user/team/bob`, secretAccessKey: 'local' },
      AKIADEPLOY: { arn: `arn:aws:iam::${ACCOUNT}:role/deployers`, secretAccessKey: 'local' },
    });
    assert.deepEqual(parseTwinAccount({}).principals, {});
  });

  it('fails on a principal ARN that is not a user, role or assumed-role ARN, naming principals.<access key>.arn', () => {
    for (const arn of ['arn:aws:s3:::bucket', 'alice', `arn:aws:iam::${ACCOUNT}:group/admins`, 'arn:aws:iam::12345:user/x']) {
      assert.throws(
        () => parseTwinAccount({ principals: { AKIAALICE: { arn } } }, 'hello-world.twin.json'),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /^hello-world\.twin\.json is not valid:\n {2}- principals\.AKIAALICE\.arn: use an IAM user ARN \(arn:aws:iam::<account>:user\/<name>\), a role ARN/);
          return true;
        },
      );
    }
    assert.throws(() => parseTwinAccount({ principals: { AKIAALICE: { arn: ALICE_ARN, extra: 1 } } }), /principals\.AKIAALICE/);
  });
});

describe('invokeFunctionUrl over HTTP against the twin\'s server', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
    resetClients();
  });

  /** The twin's HTTP server with a function URL `approval` whose function is `fn`. */
  async function serve(fn: FunctionUrlHandlingOptions['invoke']): Promise<{ url: string; logged: string[] }> {
    const logged: string[] = [];
    const routes: HttpRoutes = {
      webhook: async () => ({ statusCode: 404 }),
      events: async () => ({ statusCode: 404, body: {} }),
      stepFunctions: async () => ({ statusCode: 404, headers: {}, body: '' }),
      functionUrl: (name, request) => handleFunctionUrlRequest(request, { region: REGION, accountId: ACCOUNT, principals: PRINCIPALS, functionName: name, invoke: fn }),
      index: () => ({}),
    };
    const server = await startHttpServer(0, routes, { log: (line) => logged.push(line) });
    close = server.close;
    return { url: server.url, logged };
  }

  it('POSTs the body as signed JSON with the client factory\'s credentials; the answer\'s status and JSON come back', async () => {
    // Prepare
    const events: LambdaFunctionURLEventWithIAMAuthorizer[] = [];
    const { url } = await serve(async (e) => {
      events.push(e);
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: `approved by ${e.requestContext.authorizer.iam.userArn}` }) };
    });
    configureClients({ region: REGION, credentials: ALICE });
    // Act
    const withSlash = await invokeFunctionUrl(`${url}/lambda-url/approval/`, BODY);
    const withoutSlash = await invokeFunctionUrl(`${url}/lambda-url/approval`, BODY);
    // Assess
    assert.deepEqual(withSlash, { status: 200, body: { message: `approved by ${ALICE_ARN}` }, text: JSON.stringify({ message: `approved by ${ALICE_ARN}` }) });
    assert.equal(withoutSlash.status, 200);
    assert.equal(events.length, 2);
    assert.deepEqual(JSON.parse(events[0]!.body!), BODY);
  });

  it('a wrong secret is answered 403 Forbidden (the reason only in the twin\'s log); a function error 502', async () => {
    const { url, logged } = await serve(async () => {
      throw new Error('table gone');
    });
    configureClients({ region: REGION, credentials: { accessKeyId: ALICE.accessKeyId, secretAccessKey: 'guess' } });
    const forbidden = await invokeFunctionUrl(`${url}/lambda-url/approval/`, BODY);
    assert.deepEqual(forbidden, { status: 403, body: { Message: 'Forbidden' }, text: '{"Message":"Forbidden"}' });
    assert.match(logged.join('\n'), /POST \/lambda-url\/approval\/ answered 403: the signature does not match \(access key AKIAALICE/);
    configureClients({ region: REGION, credentials: ALICE });
    const failed = await invokeFunctionUrl(`${url}/lambda-url/approval/`, BODY);
    assert.equal(failed.status, 502);
    assert.equal((failed.body as { Message: string }).Message, 'Internal Server Error');
    assert.match(logged.join('\n'), /answered 502: the approval function failed \(Error: table gone\)/);
  });

  it('an unsigned request is refused before the function runs', async () => {
    let called = 0;
    const { url } = await serve(async () => void called++);
    const res = await fetch(`${url}/lambda-url/approval/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODY) });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('x-amzn-errortype'), 'AccessDeniedException');
    assert.deepEqual(await res.json(), { Message: 'Forbidden' });
    assert.equal(called, 0);
  });

  it('fails naming the URL and the cause when nothing listens, and when no answer comes in time', async () => {
    // Prepare: a free port nobody listens on, and a server that never answers.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const silent = createHttpServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const silentPort = (silent.address() as { port: number }).port;
    configureClients({ region: REGION, credentials: LOCAL });
    try {
      // Act / Assess
      await assert.rejects(invokeFunctionUrl(`http://127.0.0.1:${port}/lambda-url/approval/`, BODY), (err: Error) => {
        assert.match(err.message, new RegExp(`^The function URL http://127\\.0\\.0\\.1:${port}/lambda-url/approval/ could not be called: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\.$`));
        return true;
      });
      await assert.rejects(invokeFunctionUrl(`http://127.0.0.1:${silentPort}/x/`, BODY, { timeoutMs: 100 }), /^Error: The function URL http:\/\/127\.0\.0\.1:\d+\/x\/ could not be called: no full answer within 100 ms\.$/);
      await assert.rejects(invokeFunctionUrl('ftp://example.com/', BODY), /is not an http\(s\) URL/);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('signing context and region', () => {
  afterEach(() => resetClients());

  it('the region is the function URL\'s own on AWS, else none (the factory\'s)', () => {
    assert.equal(functionUrlRegion('https://abcdefghij0123456789.lambda-url.eu-west-1.on.aws/'), 'eu-west-1');
    assert.equal(functionUrlRegion('https://abcdefghij0123456789.lambda-url.ap-southeast-2.on.aws'), 'ap-southeast-2');
    assert.equal(functionUrlRegion(TWIN_URL), undefined);
    assert.equal(functionUrlRegion('https://example.com/lambda-url.eu-west-1.on.aws'), undefined);
  });

  it('signingContext gives the configured static credentials and region, or the region asked for', async () => {
    configureClients({ region: 'eu-central-1', credentials: ALICE });
    const ctx = await signingContext();
    assert.equal(ctx.region, 'eu-central-1');
    assert.equal(ctx.credentials.accessKeyId, ALICE.accessKeyId);
    assert.equal(ctx.credentials.secretAccessKey, ALICE.secretAccessKey);
    assert.equal((await signingContext('eu-west-1')).region, 'eu-west-1');
  });
});
