/**
 * A platform team's fleet for scale tests: `n` services, each with `staging` and `production`;
 * even-numbered services on GitHub with RDS instances, odd ones on CodeCommit with Aurora clusters;
 * production behind a listener rule of a shared load balancer with two alarms, staging behind its own
 * listener with one; account 111122223333, eu-west-1.
 */
import { parseConfig, type Config } from '../../lib/config';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const hex = (i: number, width = 16) => i.toString(16).padStart(width, '0');

/** The raw (unvalidated) JSON of the fleet config. */
export function fleetConfigRaw(n: number): { services: Record<string, unknown> } {
  const services: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const name = `svc-${String(i).padStart(3, '0')}`;
    const aurora = i % 2 === 1;
    const env = (stage: 'staging' | 'production', k: number) => ({
      cluster: `${stage}-apps`,
      slots: {
        blue: { service: `${name}-blue`, targetGroupArn: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/${name}-${stage[0]}-blue/${hex(i * 4 + k)}` },
        green: { service: `${name}-green`, targetGroupArn: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/${name}-${stage[0]}-green/${hex(i * 4 + k + 1)}` },
      },
      containerName: 'app',
      imageRepository: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${name}`,
      production:
        stage === 'production'
          ? { ruleArn: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener-rule/app/shared/${hex(1)}/${hex(2)}/${hex(i + 100)}` }
          : { listenerArn: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/${name}-stg/${hex(i + 300)}/${hex(i + 400)}` },
      alarms: stage === 'production' ? [`${name}-production-5xx`, `${name}-production-latency`] : [`${name}-staging-5xx`],
      strategy: stage === 'production' ? { type: 'canary', percent: 10, bakeSeconds: 300 } : { type: 'all-at-once' },
      database: {
        ...(aurora ? { clusterIdentifier: `${name}-${stage}` } : { instanceIdentifier: `${name}-${stage}` }),
        migration: { command: ['npm', 'run', 'migrate'] },
      },
      databaseFailurePolicy: stage === 'production' ? 'approve' : 'restore',
    });
    services[name] = {
      repository: aurora ? { codecommit: name } : { github: `example-org/${name}` },
      branches: { main: 'production', develop: 'staging' },
      environments: { staging: env('staging', 2), production: env('production', 0) },
    };
  }
  return { services };
}

/** The fleet config, validated. */
export function fleetConfig(n: number): Config {
  return parseConfig(fleetConfigRaw(n), `fleet of ${n}`);
}
