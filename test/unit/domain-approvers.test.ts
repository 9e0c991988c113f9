/**
 * lib/domain/approvers.ts: parsing an environment's `approvers`, their canonical ARNs, and matching a
 * caller's ARN (as a function URL's IAM authorizer or STS GetCallerIdentity reports it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { approverArn, canonicalApprovers, decideApprover, parseApprover } from '../../lib/domain/approvers';
import { parseConfig } from '../../lib/config';
import { ConfigError } from '../../lib/config/load';
import { sampleConfigJson } from '../helpers/twin';
import { planFrom } from '../helpers/plans';

const ACCOUNT = '123456789012';
const TG = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:targetgroup/blue/0123456789abcdef`;
const ENV = 'hello-world/production';

describe('approvers: parsing and canonical form', () => {
  it('a role name becomes the role ARN in the environment account; ARNs keep their own account', () => {
    assert.deepEqual(
      canonicalApprovers(
        ['release-managers', `arn:aws:iam::${ACCOUNT}:role/ops/Deployers`, 'arn:aws:iam::210987654321:user/alice', `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Admin_1234/carol@example.com`],
        TG,
      ),
      [
        `arn:aws:iam::${ACCOUNT}:role/release-managers`,
        `arn:aws:iam::${ACCOUNT}:role/Deployers`,
        'arn:aws:iam::210987654321:user/alice',
        `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Admin_1234/carol@example.com`,
      ],
    );
  });

  it('takes the partition from the environment (GovCloud, China)', () => {
    assert.deepEqual(canonicalApprovers(['release-managers'], 'arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/x/0123456789abcdef'), [
      'arn:aws-us-gov:iam::123456789012:role/release-managers',
    ]);
  });

  it('refuses what is not a role name or an IAM/STS principal ARN', () => {
    for (const bad of ['', '*', '**', `arn:aws:iam::${ACCOUNT}:role/*`, 'release managers', 'arn:aws:iam::12345:role/x', 'arn:aws:s3:::bucket', 'arn:aws:iam::123456789012:group/admins', 'a'.repeat(65)]) {
      assert.equal(parseApprover(bad, ACCOUNT), undefined, bad);
    }
  });

  it('keeps a user ARN path (part of the user ARN) and drops a role path (not in an assumed-role ARN)', () => {
    assert.equal(approverArn(parseApprover(`arn:aws:iam::${ACCOUNT}:user/engineering/alice`, ACCOUNT)!), `arn:aws:iam::${ACCOUNT}:user/engineering/alice`);
    assert.equal(approverArn(parseApprover(`arn:aws:iam::${ACCOUNT}:role/service-role/deployers`, ACCOUNT)!), `arn:aws:iam::${ACCOUNT}:role/deployers`);
  });
});

describe('approvers: who may approve', () => {
  const approvers = canonicalApprovers(['release-managers', 'AWSReservedSSO_ReleaseManager_*', `arn:aws:iam::${ACCOUNT}:user/alice`], TG);

  it('any session of an approver role, its name compared without case', () => {
    const d = decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/Release-Managers/ada`, approvers, ENV);
    assert.equal(d.allowed, true);
    assert.equal(d.allowed && d.matched, `arn:aws:iam::${ACCOUNT}:role/release-managers`);
  });

  it('a role pattern with * (IAM Identity Center permission set roles)', () => {
    assert.equal(decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_ReleaseManager_a1b2c3d4e5f6/grace@example.com`, approvers, ENV).allowed, true);
    assert.equal(decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Developer_a1b2c3d4e5f6/bob@example.com`, approvers, ENV).allowed, false);
  });

  it('a pattern with many * stays fast (no backtracking blow-up) and still matches right', () => {
    const many = canonicalApprovers(['*a*a*a*a*a*a*a*a*a*a*b'], TG);
    const start = process.hrtime.bigint();
    assert.equal(decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/${'a'.repeat(64)}/session`, many, ENV).allowed, false);
    assert.equal(decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/${'a'.repeat(63)}b/session`, many, ENV).allowed, true);
    assert.ok(process.hrtime.bigint() - start < 1_000_000_000n, 'well under a second');
    const middle = canonicalApprovers(['deploy*prod'], TG);
    assert.equal(decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/deploy-eu-prod/session`, middle, ENV).allowed, true);
    assert.equal(decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/deploy-eu-prod-x/session`, middle, ENV).allowed, false);
  });

  it('an IAM user exactly (name and account)', () => {
    assert.equal(decideApprover(`arn:aws:iam::${ACCOUNT}:user/alice`, approvers, ENV).allowed, true);
    assert.equal(decideApprover(`arn:aws:iam::${ACCOUNT}:user/alice2`, approvers, ENV).allowed, false);
    assert.equal(decideApprover('arn:aws:iam::999999999999:user/alice', approvers, ENV).allowed, false);
  });

  it('the same role name in another account is not an approver', () => {
    assert.equal(decideApprover('arn:aws:sts::999999999999:assumed-role/release-managers/ada', approvers, ENV).allowed, false);
  });

  it('a session ARN approver matches that session only', () => {
    const one = canonicalApprovers([`arn:aws:sts::${ACCOUNT}:assumed-role/admins/grace`], TG);
    assert.equal(decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/admins/grace`, one, ENV).allowed, true);
    assert.equal(decideApprover(`arn:aws:sts::${ACCOUNT}:assumed-role/admins/mallory`, one, ENV).allowed, false);
  });

  it('root and other principal kinds never match; the refusal names the caller, the approvers and the fix', () => {
    const d = decideApprover(`arn:aws:iam::${ACCOUNT}:root`, approvers, ENV);
    assert.equal(d.allowed, false);
    assert.match(d.message, new RegExp(`^arn:aws:iam::${ACCOUNT}:root is not an approver of hello-world/production: its approvers are arn:aws:iam::${ACCOUNT}:role/release-managers, .*Ask one of them to approve`));
  });

  it('no approvers: anyone IAM lets call the function may approve', () => {
    assert.equal(decideApprover(`arn:aws:iam::${ACCOUNT}:user/anyone`, undefined, ENV).allowed, true);
    assert.equal(decideApprover(`arn:aws:iam::${ACCOUNT}:user/anyone`, [], ENV).allowed, true);
  });
});

describe('approvers: config and plan', () => {
  it('the plan carries canonical approvers only with an approval gate', () => {
    const plan = planFrom((env) => {
      env.approval = 'before-traffic';
      env.approvers = ['release-managers'];
    });
    assert.deepEqual(plan.approval.approvers, [`arn:aws:iam::${ACCOUNT}:role/release-managers`]);
    assert.equal(planFrom((env) => (env.approval = 'before-traffic')).approval.approvers, undefined);
  });

  it('a config error names the field and the forms for a bad entry, and approvers without an approval gate', () => {
    const raw = sampleConfigJson();
    raw.services['hello-world'].environments.production.approval = 'before-traffic';
    raw.services['hello-world'].environments.production.approvers = ['release managers'];
    assert.throws(() => parseConfig(structuredClone(raw)), (e: unknown) => e instanceof ConfigError && /approvers\.0: "release managers" is not an approver: use a role name/.test(e.message));
    raw.services['hello-world'].environments.production.approvers = ['arn:aws:iam::210987654321:role/release-managers'];
    assert.throws(
      () => parseConfig(structuredClone(raw)),
      (e: unknown) => e instanceof ConfigError && /approvers\.0: "arn:aws:iam::210987654321:role\/release-managers" is in account 210987654321 \(aws\), but this environment is in 123456789012 \(aws\)/.test(e.message),
    );
    raw.services['hello-world'].environments.production.approvers = ['release-managers'];
    raw.services['hello-world'].environments.production.approval = 'none';
    assert.throws(() => parseConfig(structuredClone(raw)), (e: unknown) => e instanceof ConfigError && /approvers: approvers approve the approval gate, but approval is "none"/.test(e.message));
  });
});
