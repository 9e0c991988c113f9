/**
 * EventBridge → the twin's `POST /events`: a CodeCommit push event (the shape of the AWS docs' example
 * of "CodeCommit Repository State Change") matches cutover's rule and starts a deploy whose input is the
 * rule's input-transformer output; other events match nothing. Also the PutEvents `{ "Entries": [...] }` form.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { Twin } from '../../lib/local/twin';
import { configFile, outcome, postJson, sfnClientFor, startTwin } from '../helpers/http';

const MAIN_COMMIT = '5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b';
const DEVELOP_COMMIT = 'f00dbabe00112233445566778899aabbccddeeff';
const CALLER = 'arn:aws:iam::123456789012:user/Mary_Major';

/** A "CodeCommit Repository State Change" event as EventBridge delivers it (AWS docs example shape). */
/**
 * The fixture's resources are in eu-west-1, account 210987654321: the twin takes its region and account
 * from them, so the events come from there (an event from another account or region is not cutover's).
 */
const ACCOUNT = '210987654321';
const REGION = 'eu-west-1';

function codeCommitEvent(overrides: { id?: string; repository?: string; branch?: string; commitId?: string; event?: string; referenceType?: string; account?: string; region?: string } = {}) {
  const repository = overrides.repository ?? 'orders-api';
  const branch = overrides.branch ?? 'main';
  return {
    version: '0',
    id: overrides.id ?? '01234567-0123-0123-0123-012345678901',
    'detail-type': 'CodeCommit Repository State Change',
    source: 'aws.codecommit',
    account: overrides.account ?? ACCOUNT,
    time: '2025-06-12T10:23:43Z',
    region: overrides.region ?? REGION,
    resources: [`arn:aws:codecommit:${overrides.region ?? REGION}:${overrides.account ?? ACCOUNT}:${repository}`],
    detail: {
      callerUserArn: CALLER,
      commitId: overrides.commitId ?? MAIN_COMMIT,
      event: overrides.event ?? 'referenceUpdated',
      oldCommitId: '0000111122223333444455556666777788889999',
      referenceFullName: `refs/${overrides.referenceType === 'tag' ? 'tags' : 'heads'}/${branch}`,
      referenceName: branch,
      referenceType: overrides.referenceType ?? 'branch',
      repositoryId: '12345678-1234-5678-abcd-12345678abcd',
      repositoryName: repository,
    },
  };
}

describe('e2e: EventBridge events (CodeCommit) over HTTP', () => {
  let twin: Twin;
  let sfn: SFNClient;

  const executionNames = async () =>
    ((await sfn.send(new ListExecutionsCommand({ stateMachineArn: twin.deployStateMachineArn }))).executions ?? []).map((e) => e.name).sort();

  before(async () => {
    twin = await startTwin({ config: configFile('test/constructs/fixtures/codecommit-aurora.json') });
    sfn = sfnClientFor(twin);
  });
  after(async () => {
    sfn?.destroy();
    await twin?.stop();
  });

  it('takes the region and account of the config\'s ARNs: an event from us-east-1 / 123456789012 (not the config\'s) starts nothing', async () => {
    assert.equal(twin.deployStateMachineArn.split(':').slice(3, 5).join(':'), `${REGION}:${ACCOUNT}`);
    const res = await postJson(twin.url, '/events', codeCommitEvent({ id: '99999999-2222-3333-4444-555555555555', account: '123456789012', region: 'us-east-1' }));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { results: [{ rule: null, ignored: 'no rule matches this event' }] });
  });

  it('a push to orders-api main starts a deploy whose input is the input-transformer output, and it deploys', async () => {
    const event = codeCommitEvent({ id: '11111111-2222-3333-4444-555555555555' });

    const res = await postJson(twin.url, '/events', event);

    assert.equal(res.status, 200, res.text);
    const expectedArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:cutover-deploy:${event.id}`;
    assert.deepEqual(res.json, { results: [{ rule: 'codecommit-push', executionArn: expectedArn }] });

    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: expectedArn }));
    assert.deepEqual(JSON.parse(described.input!), {
      codecommit: {
        repositoryName: 'orders-api',
        referenceName: 'main',
        commitId: MAIN_COMMIT,
        callerUserArn: CALLER,
        eventId: event.id,
      },
    });

    const done = await twin.sfn.waitForExecution(expectedArn);
    assert.equal(done.status, 'SUCCEEDED', outcome(twin, expectedArn));
    // main → orders / production (an Aurora cluster, linear 25% steps).
    const output = JSON.parse(done.output!) as { message: string };
    assert.match(output.message, /^orders\/production: release 5a6b7c8 .*100% of production traffic/);
    const snapshots = twin.sim.calls.filter((c) => c.service === 'rds' && c.operation === 'CreateDBClusterSnapshot');
    assert.equal(snapshots.length, 1, 'the Aurora cluster was snapshotted before the migrations');
  });

  it('events that match no rule → 200 ignored, no execution', async () => {
    const before = await executionNames();
    const unmatched = [
      codeCommitEvent({ repository: 'not-configured' }), // repository not in the config
      codeCommitEvent({ branch: 'feature/x' }), // branch not configured
      codeCommitEvent({ referenceType: 'tag', branch: 'v1.0.0' }), // a tag
      codeCommitEvent({ event: 'referenceDeleted' }), // a deleted branch
      { ...codeCommitEvent(), source: 'aws.ecs', 'detail-type': 'ECS Task State Change' },
    ];
    for (const event of unmatched) {
      const res = await postJson(twin.url, '/events', event);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { results: [{ rule: null, ignored: 'no rule matches this event' }] }, JSON.stringify(event.detail));
    }
    assert.deepEqual(await executionNames(), before);
  });

  it('the PutEvents form: { Entries: [...] } — each entry is matched, in order', async () => {
    const before = await executionNames();
    const develop = codeCommitEvent({ branch: 'develop', commitId: DEVELOP_COMMIT });
    const other = codeCommitEvent({ repository: 'not-configured' });

    const res = await postJson(twin.url, '/events', {
      Entries: [
        { Source: develop.source, DetailType: develop['detail-type'], Resources: develop.resources, Detail: JSON.stringify(develop.detail) },
        { Source: other.source, DetailType: other['detail-type'], Resources: other.resources, Detail: JSON.stringify(other.detail) },
      ],
    });

    assert.equal(res.status, 200, res.text);
    const results = res.json?.results as Array<{ rule: string | null; executionArn?: string; ignored?: string }>;
    assert.equal(results.length, 2);
    assert.equal(results[0]!.rule, 'codecommit-push');
    assert.match(results[0]!.executionArn ?? '', /^arn:aws:states:eu-west-1:210987654321:execution:cutover-deploy:[0-9a-f-]{36}$/);
    assert.deepEqual(results[1], { rule: null, ignored: 'no rule matches this event' });

    const eventId = results[0]!.executionArn!.split(':').pop();
    const done = await twin.sfn.waitForExecution(results[0]!.executionArn!);
    assert.deepEqual(JSON.parse(done.input!), {
      codecommit: { repositoryName: 'orders-api', referenceName: 'develop', commitId: DEVELOP_COMMIT, callerUserArn: CALLER, eventId },
    });
    assert.equal(done.status, 'SUCCEEDED', outcome(twin, results[0]!.executionArn!));
    // develop → orders / staging.
    assert.match((JSON.parse(done.output!) as { message: string }).message, /^orders\/staging: release f00dbab /);
    assert.deepEqual(await executionNames(), [...before, eventId].sort());
  });

  it('a body that is not JSON → 400', async () => {
    const res = await postJson(twin.url, '/events', '{"source": "aws.codecommit",');
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { message: 'The body must be an EventBridge event (JSON).' });
  });
});
