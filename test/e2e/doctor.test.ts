/**
 * `cutover doctor` as a user runs it (`npx tsx bin/cutover.ts doctor --endpoint … --config …`, a child
 * process) against a local twin (the lazy simulator) whose account is first broken — one alarm of the
 * config was never created, and the production listener also forwards to a third target group — and
 * then repaired through the twin's AWS API (SDK clients routed to its simulator): exactly those two ✘
 * rows and exit 1, then all ✔ but the skipped IAM row (a twin has no IAM) and exit 0.
 *
 * The CLI is another process, so it reaches the twin's simulated account over HTTP with the doctor's
 * wire format (lib/aws/inspect.ts: `POST <twin>/aws/<service>/<Operation>`, read-only operations only),
 * which the twin's HTTP server serves (lib/local/http.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTargetGroupCommand, DescribeListenersCommand, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { cloudWatchClient, elbv2Client } from '../../lib/aws/clients';
import { runDoctor, type DoctorReport } from '../../lib/cli/doctor';
import { errorLines, runCutover, type CliResult } from '../helpers/cli';
import { ALARM_5XX, configVariant, TestTwin } from '../helpers/twin';
import { join } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';

/** The sample's hello-world/production alone, as the twin below runs it (test/helpers/plans.ts productionOnly). */
const PRODUCTION_ONLY_CONFIG = join(ROOT_DIR, 'test/fixtures/hello-world-production.json');

const PROD_LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/hello-world/50dc6c495c0c9188/f2f7dc8efc522ab2';

describe('e2e: cutover doctor against a twin', () => {
  let t: TestTwin;
  let thirdTargetGroup = '';

  before(async () => {
    // The account as the seed makes it from a config without the 5xx alarm: that alarm does not exist.
    t = await TestTwin.start({ config: configVariant((env) => (env.alarms = (env.alarms as string[]).filter((a) => a !== ALARM_5XX))) });
  });
  after(async () => {
    await t?.stop();
  });

  const doctor = (...args: string[]) => runCutover(['doctor', '--endpoint', t.twin.url, '--config', PRODUCTION_ONLY_CONFIG, ...args], 60_000);
  const report = (r: CliResult): DoctorReport => {
    assert.deepEqual(errorLines(r), [], `nothing on stderr:\n${r.stderr}`);
    return JSON.parse(r.stdout) as DoctorReport;
  };

  it('a broken account: exactly the missing alarm and the third target group are ✘, exit 1', async () => {
    // The production listener also forwards to a third target group (through the twin's ELBv2 API).
    const created = await elbv2Client().send(new CreateTargetGroupCommand({ Name: 'hello-world-legacy', Protocol: 'HTTP', Port: 8080, VpcId: 'vpc-0sim', TargetType: 'ip' }));
    thirdTargetGroup = created.TargetGroups![0]!.TargetGroupArn!;
    const listener = (await elbv2Client().send(new DescribeListenersCommand({ ListenerArns: [PROD_LISTENER] }))).Listeners![0]!;
    const groups = listener.DefaultActions!.find((a) => a.Type === 'forward')!.ForwardConfig!.TargetGroups!;
    await elbv2Client().send(
      new ModifyListenerCommand({ ListenerArn: PROD_LISTENER, DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [...groups, { TargetGroupArn: thirdTargetGroup, Weight: 10 }] } }] }),
    );
    const writesBefore = t.sim.calls.filter((c) => !/^(Describe|List|Get)/.test(c.operation)).length;

    const [text, json] = await Promise.all([doctor(), doctor('--json')]);

    assert.equal(text.code, 1, `exit 1\n${text.stdout}\n${text.stderr}`);
    assert.deepEqual(errorLines(text), []);
    assert.match(text.stdout, new RegExp(`^✘ +hello-world/production +alarm ${ALARM_5XX} +CloudWatch alarm "${ALARM_5XX}" does not exist`, 'm'));
    assert.match(text.stdout, /^✘ +hello-world\/production +production listener +listener .*also forwards to .*hello-world-legacy.* \(weight 10\), which is not a slot$/m);
    assert.match(text.stdout, new RegExp(`^ {2}✘ hello-world/production alarm ${ALARM_5XX}: create it or remove it from services\\.hello-world\\.environments\\.production\\.alarms`, 'm'));
    assert.match(text.stdout, /^ {2}✘ hello-world\/production production listener: remove arn:aws:elasticloadbalancing:.*targetgroup\/hello-world-legacy\//m);
    assert.match(text.stdout, /2 ✘ {2}1 – {2}not ready/);

    assert.equal(json.code, 1);
    const r = report(json);
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.checks.filter((c) => c.status === 'fail').map((c) => [c.check, c.detail.includes(thirdTargetGroup) || c.detail.includes(ALARM_5XX)]),
      [
        ['production listener', true],
        [`alarm ${ALARM_5XX}`, true],
      ],
    );
    assert.deepEqual(r.checks.filter((c) => c.status !== 'ok' && c.status !== 'fail').map((c) => [c.check, c.status]), [['IAM roles', 'skip']]);
    // The doctor wrote nothing into the twin's account.
    assert.equal(t.sim.calls.filter((c) => !/^(Describe|List|Get)/.test(c.operation)).length, writesBefore);
  });

  it('after the fixes it printed (create the alarm, remove the third target group): all ✔ but the skipped IAM row, exit 0', async () => {
    assert.ok(thirdTargetGroup, 'the first test broke the listener');
    await cloudWatchClient().send(
      new PutMetricAlarmCommand({
        AlarmName: ALARM_5XX,
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'HTTPCode_Target_5XX_Count',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    const listener = (await elbv2Client().send(new DescribeListenersCommand({ ListenerArns: [PROD_LISTENER] }))).Listeners![0]!;
    const groups = listener.DefaultActions!.find((a) => a.Type === 'forward')!.ForwardConfig!.TargetGroups!.filter((g) => g.TargetGroupArn !== thirdTargetGroup);
    await elbv2Client().send(new ModifyListenerCommand({ ListenerArn: PROD_LISTENER, DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: groups } }] }));

    const [text, json] = await Promise.all([doctor(), doctor('--json', 'hello-world', 'production')]);

    assert.equal(text.code, 0, `exit 0\n${text.stdout}\n${text.stderr}`);
    assert.deepEqual(errorLines(text), []);
    assert.match(text.stdout, /^cutover doctor: .*hello-world(-production)?\.json against the local twin at http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(text.stdout, /^– +hello-world\/production +IAM roles +skipped: the local twin has no IAM/m);
    assert.match(text.stdout, /ready for a first deployment$/m);
    assert.doesNotMatch(text.stdout, /^✘/m);

    const r = report(json);
    assert.equal(json.code, 0);
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.checks.map((c) => `${c.status} ${c.check}`),
      [
        'ok ECS cluster',
        'ok ECS service blue',
        'ok ECS service green',
        'ok container blue',
        'ok container green',
        'ok production listener',
        'ok test listener',
        `ok alarm ${ALARM_5XX}`,
        'ok alarm hello-world-production-latency',
        'ok database',
        'ok migration command',
        'skip IAM roles',
      ],
    );
  });

  it('names that do not exist in the twin\'s account: the simulator\'s own not-found answers become ✘ rows (in-process, no CLI)', async () => {
    const config = configVariant((env) => {
      env.cluster = 'hello-world-typo';
      env.production = { listenerArn: PROD_LISTENER.replace(/f2f7dc8efc522ab2$/, '0000000000000000') };
      env.database.instanceIdentifier = 'hello-world-prod';
    });
    const rows = await runDoctor({ config, iam: { skip: 'the local twin has no IAM' } });
    const status = Object.fromEntries(rows.map((r) => [r.check, `${r.status}: ${r.detail}`]));
    assert.match(status['ECS cluster']!, /^fail: ECS cluster "hello-world-typo" does not exist/);
    assert.match(status['ECS service blue']!, /^skip: not checked: the cluster "hello-world-typo" was not found/);
    assert.match(status['production listener']!, /^fail: listener .*0000000000000000 does not exist/);
    assert.match(status['database']!, /^fail: DB instance "hello-world-prod" does not exist/);
  });
});
