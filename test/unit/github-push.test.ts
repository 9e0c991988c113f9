import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type Config } from '../../lib/config';
import { ExplicitDeployInputSchema } from '../../lib/domain/deploy-input';
import {
  decidePush,
  executionArnFor,
  isPushPayload,
  isValidExecutionName,
  releaseHasMigrations,
} from '../../lib/domain/github-push';
import { deletionPush, masterPush, sampleConfigText, tagPush } from '../helpers/github';

const DELIVERY = '72d3162e-cc78-11e3-81ab-4c9367dc0958';
const config = (): Config => parseConfig(JSON.parse(sampleConfigText()), 'hello-world.json');
const production = () => config().services['hello-world']!.environments.production!;

describe('decidePush', () => {
  it('deploys the head commit of a push to a configured repository and branch', () => {
    // Prepare
    const push = masterPush();
    // Act
    const decision = decidePush(push, config(), DELIVERY);
    // Assess
    assert.equal(decision.kind, 'deploy');
    assert.ok(decision.kind === 'deploy');
    assert.equal(decision.executionName, DELIVERY);
    assert.deepEqual(ExplicitDeployInputSchema.parse(decision.input), decision.input);
    assert.deepEqual(decision.input, {
      service: 'hello-world',
      environment: 'production',
      release: {
        commit: push.head_commit!.id,
        migrations: false,
        message: 'Initial commit',
        ref: 'refs/heads/master',
        committedAt: new Date(push.head_commit!.timestamp).toISOString(),
      },
      trigger: { source: 'github-push', actor: 'Codertocat', deliveryId: DELIVERY, url: push.compare },
    });
  });

  it('uses the first line of the commit message and falls back to the sender for the actor', () => {
    const push = masterPush();
    push.head_commit!.message = 'Add users table\n\nLonger description';
    (push.pusher as { name?: string }).name = undefined;
    const decision = decidePush(push, config(), DELIVERY);
    assert.ok(decision.kind === 'deploy');
    assert.equal(decision.input.release.message, 'Add users table');
    assert.equal(decision.input.trigger?.actor, push.sender.login);
  });

  it('matches the repository case-insensitively', () => {
    const push = masterPush();
    push.repository.full_name = 'codertocat/hello-world';
    assert.equal(decidePush(push, config(), DELIVERY).kind, 'deploy');
  });

  const ignored: Array<[string, () => ReturnType<typeof masterPush>, RegExp]> = [
    ['a tag push', tagPush, /^tag push \(refs\/tags\/simple-tag\)/],
    ['a branch deletion (real payload)', () => ({ ...deletionPush(), ref: 'refs/heads/master' }), /^branch deletion/],
    ['a branch deletion by all-zero after', () => ({ ...masterPush(), after: '0'.repeat(40) }), /^branch deletion/],
    ['a push without head commit', () => ({ ...masterPush(), head_commit: null }), /has no head commit/],
    ['a non-branch ref', () => ({ ...masterPush(), ref: 'refs/pull/1/head' }), /is not a branch/],
    [
      'an unconfigured repository',
      () => {
        const p = masterPush();
        p.repository.full_name = 'Octocoders/Other';
        return p;
      },
      /^repository "Octocoders\/Other" is not configured$/,
    ],
    ['an unconfigured branch', () => ({ ...masterPush(), ref: 'refs/heads/feature' }), /^branch "feature" of repository "Codertocat\/Hello-World" is not configured$/],
  ];
  for (const [what, make, reason] of ignored) {
    it(`ignores ${what}`, () => {
      const decision = decidePush(make(), config(), DELIVERY);
      assert.equal(decision.kind, 'ignore');
      assert.ok(decision.kind === 'ignore');
      assert.match(decision.reason, reason);
    });
  }

  it('ignores a head commit id the deploy input cannot carry, naming the field', () => {
    const push = masterPush();
    push.head_commit!.id = 'not-a-sha';
    const decision = decidePush(push, config(), DELIVERY);
    assert.ok(decision.kind === 'ignore');
    assert.match(decision.reason, /release\.commit/);
  });
});

describe('releaseHasMigrations', () => {
  it('is false when no file is under a migration path', () => {
    assert.equal(releaseHasMigrations(masterPush(), production()), false);
  });

  for (const list of ['added', 'modified', 'removed'] as const) {
    it(`is true when a commit's ${list} files include a migration path`, () => {
      const push = masterPush();
      push.commits[0]![list].push('migrations/0002_users.sql');
      push.head_commit = push.commits[0]!;
      assert.equal(releaseHasMigrations(push, production()), true);
    });
  }

  it('looks at every commit, not only the head commit', () => {
    const push = masterPush();
    const earlier = { ...structuredClone(push.commits[0]!), id: 'a'.repeat(40), added: ['migrations/0001.sql'] };
    push.commits.unshift(earlier);
    assert.equal(releaseHasMigrations(push, production()), true);
  });

  it('is false when the environment has no database', () => {
    const push = masterPush();
    push.commits[0]!.added.push('migrations/0002_users.sql');
    const { database: _, ...noDatabase } = production();
    assert.equal(releaseHasMigrations(push, noDatabase), false);
  });

  it('is true (safe) when the payload has no file lists', () => {
    const push = masterPush();
    for (const c of [...push.commits, push.head_commit!]) {
      delete (c as Partial<typeof c>).added;
      delete (c as Partial<typeof c>).modified;
      delete (c as Partial<typeof c>).removed;
    }
    assert.equal(releaseHasMigrations(push, production()), true);
  });

  it('is true (safe) when a commit has empty file lists (GitHub omits them for huge commits)', () => {
    const push = masterPush();
    push.commits[0]!.added = [];
    push.head_commit = push.commits[0]!;
    assert.equal(releaseHasMigrations(push, production()), true);
  });

  it('uses the head commit when the commit list is empty (new branch at an existing commit)', () => {
    const push = masterPush();
    push.commits = [];
    assert.equal(releaseHasMigrations(push, production()), false);
    push.head_commit!.modified = ['migrations/0003.sql'];
    assert.equal(releaseHasMigrations(push, production()), true);
  });
});

describe('isValidExecutionName', () => {
  it('accepts GitHub delivery GUIDs', () => {
    assert.equal(isValidExecutionName(DELIVERY), true);
  });
  for (const bad of ['', 'x'.repeat(81), 'a b', 'a/b', 'a:b', 'a$b', 'a\u0001b', 'a\tb', 'a{b}', 'a`b']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(isValidExecutionName(bad), false));
  }
});

describe('executionArnFor', () => {
  it('derives the execution ARN from the state machine ARN', () => {
    assert.equal(
      executionArnFor('arn:aws:states:us-east-1:123456789012:stateMachine:deploy', DELIVERY),
      `arn:aws:states:us-east-1:123456789012:execution:deploy:${DELIVERY}`,
    );
    assert.equal(
      executionArnFor('arn:aws-cn:states:cn-north-1:123456789012:stateMachine:deploy:3', 'n'),
      'arn:aws-cn:states:cn-north-1:123456789012:execution:deploy:n',
    );
  });
  it('returns undefined for other ARNs', () => {
    assert.equal(executionArnFor('arn:aws:lambda:us-east-1:123456789012:function:f', 'n'), undefined);
    assert.equal(executionArnFor('deploy', 'n'), undefined);
  });
});

describe('isPushPayload', () => {
  it('accepts a real push and rejects other shapes', () => {
    assert.equal(isPushPayload(masterPush()), true);
    assert.equal(isPushPayload({ zen: 'x' }), false);
    assert.equal(isPushPayload(null), false);
    assert.equal(isPushPayload({ ref: 'refs/heads/master', repository: null }), false);
  });
});
