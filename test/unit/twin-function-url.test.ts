/**
 * The twin's approval function URL (lib/local/twin.ts): `GET /` names it (`approvalUrl`, read by the
 * CLI's target), a request signed with the twin's CLI credentials (`local`/`local`, lib/aws/clients.ts
 * as the twin configures it) reaches the `approval` function with the caller's identity, and a request
 * signed with another secret is refused with 403 before the function runs. The function itself is a
 * stub here (its behaviour is tested with its handler).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LambdaFunctionURLEventWithIAMAuthorizer } from 'aws-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { invokeFunctionUrl, Sha256, signFunctionUrlRequest } from '../../lib/aws/function-url';
import { TwinIndexSchema } from '../../lib/cli/target';
import { loadConfigFile } from '../../lib/config';
import { Twin } from '../../lib/local/twin';

const SAMPLE = new URL('../fixtures/hello-world-production.json', import.meta.url).pathname;
const BODY = { service: 'hello-world', environment: 'production', decision: 'approve', operator: 'ada' };

describe('the twin\'s approval function URL', () => {
  let twin: Twin;
  const events: LambdaFunctionURLEventWithIAMAuthorizer[] = [];
  before(async () => {
    twin = await Twin.start({ config: loadConfigFile(SAMPLE), port: 0, timeScale: 3000 });
    twin.lambda.register('approval', async (event) => {
      events.push(event as LambdaFunctionURLEventWithIAMAuthorizer);
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'approved' }) };
    });
  });
  after(async () => twin.stop());

  it('GET / names approvalUrl, which the CLI\'s index schema reads', async () => {
    const index = TwinIndexSchema.parse(await (await fetch(`${twin.url}/`)).json());
    assert.equal(index.approvalUrl, `${twin.url}/lambda-url/approval/`);
  });

  it('a request signed with the twin\'s credentials reaches the approval function as the twin\'s IAM user "local"', async () => {
    // Act
    const answer = await invokeFunctionUrl(`${twin.url}/lambda-url/approval/`, BODY);
    // Assess
    assert.deepEqual({ status: answer.status, body: answer.body }, { status: 200, body: { message: 'approved' } });
    const event = events.at(-1)!;
    assert.equal(event.requestContext.authorizer.iam.userArn, `arn:aws:iam::${twin.sim.accountId}:user/local`);
    assert.equal(event.requestContext.accountId, twin.sim.accountId);
    assert.deepEqual(JSON.parse(event.body!), BODY);
  });

  it('a request signed with another secret is answered 403 Forbidden, and the function does not run', async () => {
    // Prepare
    const before = events.length;
    const signed = await signFunctionUrlRequest(`${twin.url}/lambda-url/approval/`, JSON.stringify(BODY), {
      region: twin.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'guess' },
    });
    // Act
    const res = await fetch(signed.url, { method: 'POST', headers: signed.headers, body: signed.body });
    // Assess
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('x-amzn-errortype'), 'AccessDeniedException');
    assert.deepEqual(await res.json(), { Message: 'Forbidden' });
    assert.equal(events.length, before);
  });

  it('any method reaches the function URL as on Lambda: a signed GET is passed to the function as GET; an unsigned one is 403 Forbidden, not 404', async () => {
    // Prepare
    const url = new URL(`${twin.url}/lambda-url/approval/`);
    const signer = new SignatureV4({ service: 'lambda', region: twin.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, sha256: Sha256 });
    const signed = await signer.sign({ method: 'GET', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {}, headers: { host: url.host } });
    // Act
    const get = await fetch(url, { method: 'GET', headers: signed.headers as Record<string, string> });
    const unsigned = await fetch(url, { method: 'GET' });
    // Assess
    assert.equal(get.status, 200);
    assert.equal(events.at(-1)!.requestContext.http.method, 'GET');
    assert.equal(unsigned.status, 403);
    assert.deepEqual(await unsigned.json(), { Message: 'Forbidden' });
  });
});
