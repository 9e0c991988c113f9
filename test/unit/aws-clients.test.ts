/**
 * lib/aws/clients.ts: a hung AWS call ends as the SDK's retryable TimeoutError (→ Cutover.Transient,
 * which the state machines retry) instead of waiting for the Lambda function's timeout. Offline: the
 * "AWS" endpoints are loopback sockets that accept connections and never answer, or refuse them.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { configureClients, DEFAULT_HTTP_TIMEOUTS, ecsClient, resetClients } from '../../lib/aws/clients';
import { describeService } from '../../lib/aws/ecs';

let silent: Server;
const sockets = new Set<Socket>();
let url = '';

before(async () => {
  silent = createServer((socket) => {
    sockets.add(socket); // accept, read, never answer
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});
afterEach(() => resetClients());

const routing = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };

describe('client HTTP timeouts', () => {
  it('a call that gets no answer fails as Cutover.Transient (the SDK’s TimeoutError), not by hanging', async () => {
    configureClients({ ...routing, endpoints: { ecs: url }, httpTimeouts: { requestMs: 100 } });
    const started = Date.now();
    await assert.rejects(describeService('hello-world', 'hello-world-green'), {
      name: 'Cutover.Transient',
      message: /^ECS DescribeServices hello-world-green \(cluster hello-world\): TimeoutError: .*100 ms requestTimeout/,
    });
    assert.ok(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms (3 attempts of 100 ms plus backoff)`);
  });

  it('by default every client times out a connection after 3 s and a request after 5 s, and throws', async () => {
    assert.deepEqual(DEFAULT_HTTP_TIMEOUTS, { connectionMs: 3000, requestMs: 5000 });
    // A refused connection makes the handler resolve its configuration without waiting for a timeout.
    configureClients({ ...routing, endpoints: { ecs: 'http://127.0.0.1:9' } });
    const client = ecsClient();
    await describeService('c', 's').catch(() => undefined);
    const configs = (client.config.requestHandler as { httpHandlerConfigs(): Record<string, unknown> }).httpHandlerConfigs();
    assert.equal(configs.requestTimeout, 5000);
    assert.equal(configs.connectionTimeout, 3000);
    assert.equal(configs.throwOnRequestTimeout, true);
  });
});
