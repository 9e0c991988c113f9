/**
 * The sample application's smoke test (`npm run smoke`), run by cutover as a one-off task of the new
 * release (`verify.command`) with `CUTOVER_TEST_URL` = the test listener's URL, before any production
 * traffic: GET /health must say ok, GET /orders/count must answer a count. Exit 0 when both pass; 1
 * (with what failed on stderr) otherwise; 2 without CUTOVER_TEST_URL.
 */
const base = process.env.CUTOVER_TEST_URL;
if (!base) {
  process.stderr.write('smoke: CUTOVER_TEST_URL is not set (cutover sets it to the test listener URL)\n');
  process.exit(2);
}

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

const failures: string[] = [];
try {
  const health = await get('/health');
  if (health.status !== 200 || !health.body.includes('"status":"ok"')) failures.push(`GET /health answered ${health.status}: ${health.body.slice(0, 200)}`);
  const count = await get('/orders/count');
  if (count.status !== 200 || !/"count":\d+/.test(count.body)) failures.push(`GET /orders/count answered ${count.status}: ${count.body.slice(0, 200)}`);
} catch (error) {
  failures.push(`request failed: ${(error as Error).message}`);
}
if (failures.length > 0) {
  process.stderr.write(`smoke: FAILED against ${base}: ${failures.join('; ')}\n`);
  process.exit(1);
}
process.stdout.write(`smoke: passed against ${base} (GET /health, GET /orders/count)\n`);
export {};
