/**
 * `moto_server` (moto 5.2.1, https://docs.getmoto.org/en/latest/docs/server_mode.html) as an
 * independent oracle for the contract tests: one server per test file on a free loopback port, in its
 * own process group, stopped (group SIGTERM, then SIGKILL) when the file's tests end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A running `moto_server`. */
export interface MotoServer {
  /** `http://127.0.0.1:<port>`: every service on one endpoint (moto routes by the request's signing scope). */
  readonly endpoint: string;
  /** Stop the server and every process it started; resolves once its process has exited. */
  stop(): Promise<void>;
}

/**
 * Why the contract tests cannot use moto here, or undefined when `moto_server` is on PATH.
 * (`.ci/run` refuses to run without it; a developer's machine may lack it.)
 */
export function motoUnavailableReason(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim() !== '') return undefined;
  return 'moto_server is not on PATH (install moto 5.2.1 with its server extra: pip install "moto[server]==5.2.1")';
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; released before moto binds it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start `moto_server -H 127.0.0.1 -p <free port>` and wait until it answers (`GET /moto-api/`).
 * @param timeoutMs how long to wait for the first answer, real milliseconds @default 30000
 * @throws Error naming the server's output when it exits or does not answer in time
 */
export async function startMoto(timeoutMs = 30_000): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    detached: true, // its own process group: stop() signals the server and anything it started
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  // A test process that dies without running its after hooks must not leave moto behind.
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    if (gone) return;
    killGroup('SIGTERM');
    const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    killGroup('SIGKILL'); // any child left in the group
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) throw new Error(`moto_server exited before it answered on ${endpoint}: ${stderr.trim() || '(no output)'}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr.trim() || '(no output)'}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, stop };
}

/**
 * One EC2 Query API call to moto (cutover has no EC2 client; the fixture needs a VPC and subnets):
 * form-encoded POST, answer as XML text.
 * @throws Error with moto's answer when it is not 2xx
 */
export async function ec2Query(endpoint: string, action: string, params: Record<string, string> = {}): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: '2016-11-15', ...params });
  const res = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      // moto picks the service and region from the signing scope; it does not check the signature.
      authorization: 'AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0',
    },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`EC2 ${action} on moto failed (HTTP ${res.status}): ${text.slice(0, 500)}`);
  return text;
}

/** Every `<tag>value</tag>` in an XML text, in order. */
export function xmlValues(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]!);
}
