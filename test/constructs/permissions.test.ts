/**
 * The database function's RDS resources match exactly the identifiers the restore swap creates
 * (lib/domain/restore.ts `restoreNames`, lib/aws/rds.ts's writer `<restored cluster>-1`, cut to RDS's 63
 * characters) and nothing that merely shares the prefix, for short and for the longest identifiers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
import { fleetConfigRaw } from '../helpers/fleet';
import { parseConfig } from '../../lib/config';
import { databaseStatements } from '../../lib/constructs/permissions';
import { restoreNames } from '../../lib/domain/restore';

/** IAM's ARN matching: `*` any run of characters, `?` exactly one. */
const matches = (pattern: string, name: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(name);

/** The db: / cluster: resource names of the database statements of a one-service config with these identifiers. */
function resourceNames(cluster: string, instance: string): { db: string[]; cluster: string[] } {
  const raw = fleetConfigRaw(2);
  const [a, b] = Object.values(raw.services) as Array<{ environments: Record<string, { database: Record<string, unknown> }> }>;
  a!.environments.production!.database = { instanceIdentifier: instance, migration: { command: ['m'] } };
  b!.environments.production!.database = { clusterIdentifier: cluster, migration: { command: ['m'] } };
  const stack = new Stack(new App(), 'S', { env: { account: '111122223333', region: 'eu-west-1' } });
  const text = (v: unknown): string =>
    typeof v === 'string' ? v : (v as any).Ref === 'AWS::Partition' ? 'aws' : (v as any)['Fn::Join'][1].map(text).join((v as any)['Fn::Join'][0]);
  const resources = databaseStatements(stack, parseConfig(raw)).flatMap((s) => s.statement.resources).map((r) => text(stack.resolve(r)));
  const names = (type: string) => resources.filter((r) => r.startsWith(`arn:aws:rds:eu-west-1:111122223333:${type}:`)).map((r) => r.split(':').slice(6).join(':'));
  return { db: names('db'), cluster: names('cluster') };
}

describe('database permissions follow the restore naming', () => {
  for (const length of [17, 47, 48, 62, 63]) {
    it(`covers the restored, aside and writer names of ${length}-character identifiers, and not <id>-replica`, () => {
      const cluster = `c${'x'.repeat(length - 1)}`;
      const instance = `i${'y'.repeat(length - 1)}`;
      const { db, cluster: clusters } = resourceNames(cluster, instance);
      const scoped = (names: string[], name: string) => names.some((p) => p !== '*' && matches(p, name));
      for (const deploymentId of ['d-1', 'another-deployment']) {
        const c = restoreNames(cluster, deploymentId);
        const i = restoreNames(instance, deploymentId);
        for (const name of [c.original, c.restored, c.aside]) assert.ok(scoped(clusters, name), `cluster ${name}`);
        for (const name of [i.original, i.restored, i.aside]) assert.ok(scoped(db, name), `instance ${name}`);
        // lib/aws/rds.ts createWriter: DBInstanceIdentifier `${restoredCluster}-1`.slice(0, 63)
        const writer = `${c.restored}-1`.slice(0, 63);
        assert.ok(scoped(db, writer), `writer ${writer}`);
      }
      for (const other of [`${instance}-replica`.slice(0, 63), `${instance.slice(0, 40)}-pre-prod`]) assert.ok(!scoped(db, other) || other === instance, `not ${other}`);
      assert.ok(!scoped(clusters, `${cluster}-replica`.slice(0, 63)) || length === 63, `not ${cluster}-replica`);
    });
  }
});
