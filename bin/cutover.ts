#!/usr/bin/env node
/**
 * cutover CLI — a thin wrapper over the library.
 *
 *   cutover local [--port 4780] [--config file] [--no-demo] [--exit] [--time-scale 300]
 *
 * `local` starts the local twin (lib/local), plays the demo unless --no-demo, prints the URLs and
 * serves until Ctrl-C (or exits after the demo with --exit: status 0 only if the demo's outcomes
 * were as expected).
 */
import { Command, InvalidArgumentError } from 'commander';
import '../lib/local/node-warnings';
import { ConfigError, loadConfigFile } from '../lib/config';
import { playDemo } from '../lib/local/demo';
import { createTimeline } from '../lib/local/timeline';
import { DEFAULT_PORT, LOCAL_WEBHOOK_SECRET, Twin } from '../lib/local/twin';

const DEFAULT_CONFIG = 'lib/config/samples/hello-world.json';

function integer(name: string, min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

const program = new Command()
  .name('cutover')
  .description('Blue/green deployments with schema migrations and automatic rollback for ECS + PostgreSQL on AWS.');

program
  .command('local')
  .description('Run the local twin: the real state machines and handlers against a simulated AWS, on 127.0.0.1.')
  .option('-p, --port <port>', `port on 127.0.0.1 (env CUTOVER_PORT)`, integer('--port', 0, 65535), process.env.CUTOVER_PORT ? Number(process.env.CUTOVER_PORT) : DEFAULT_PORT)
  .option('-c, --config <file>', 'cutover config (JSON)', DEFAULT_CONFIG)
  .option('--no-demo', 'serve without playing the demo')
  .option('--exit', 'exit after the demo: status 0 only if both outcomes were as expected')
  .option('--time-scale <n>', 'simulated seconds per real second', integer('--time-scale', 1, 100000), 300)
  .action(async (opts: { port: number; config: string; demo: boolean; exit?: boolean; timeScale: number }) => {
    const config = loadConfigFile(opts.config);
    const secret = process.env.CUTOVER_GITHUB_WEBHOOK_SECRET || LOCAL_WEBHOOK_SECRET;
    const started = Date.now();
    const twin = await Twin.start({ config, port: opts.port, timeScale: opts.timeScale, webhookSecret: secret });
    twin.sfn.onHistoryEvent(createTimeline({ now: () => twin.clock.nowMs() }));
    console.log(`cutover local twin on ${twin.url} (time scale ×${opts.timeScale}: a 5-minute bake takes ${(300 / opts.timeScale).toFixed(1)} s)`);
    let ok = true;
    if (opts.demo) {
      const result = await playDemo(twin);
      ok = result.ok;
      console.log(`\nDemo ${ok ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.checks.map((c) => `${c.ok ? '✔' : '✘'} ${c.name}`).join(', ')}`);
    }
    printUrls(twin, secret === LOCAL_WEBHOOK_SECRET);
    if (opts.exit) {
      await twin.stop();
      process.exit(ok ? 0 : 1);
    }
    console.log('\nServing until Ctrl-C.');
    const shutdown = async () => {
      console.log('\nStopping the twin…');
      await twin.stop();
      process.exit(0);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });

function printUrls(twin: Twin, defaultSecret: boolean) {
  console.log(`
Local URLs
  GitHub webhook   POST ${twin.url}/webhooks/github   (secret: ${defaultSecret ? `the local default "${LOCAL_WEBHOOK_SECRET}"` : 'from CUTOVER_GITHUB_WEBHOOK_SECRET'})
  EventBridge      POST ${twin.url}/events
  Step Functions   ${twin.url}   e.g.
    aws stepfunctions list-executions --endpoint-url ${twin.url} --region us-east-1 --state-machine-arn ${twin.deployStateMachineArn}
  (the AWS CLI needs any credentials, e.g. AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)`);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error(`cutover: ${(err as Error).message}`);
  }
  process.exit(1);
});
