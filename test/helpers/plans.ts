/**
 * Deployment plans for handler unit tests: the sample config (hello-world / production), optionally
 * edited, resolved exactly as the `plan` function does.
 */
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../lib/config';
import { resolvePlan, type DeploymentPlan } from '../../lib/domain/plan';

const raw = withoutGitHub(productionOnly(JSON.parse(readFileSync(new URL('../../lib/config/samples/hello-world.json', import.meta.url), 'utf8'))));

/**
 * The sample's raw config as the tests of single-environment behaviour want it: hello-world/production
 * deployed directly by pushes to master. The sample's staging environment, and production's promotion
 * rule, approval gate, windows and freezes, belong to the tests about them (deploy-promotion,
 * deploy-window, deploy-approval), which add them back. Changes `raw` and returns it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function productionOnly<T extends { services: Record<string, any> }>(raw: T): T {
  for (const svc of Object.values(raw.services)) {
    const prod = svc.environments?.production;
    if (!prod?.promotion) continue;
    const from = prod.promotion.from as string;
    delete svc.environments[from];
    for (const key of ['promotion', 'approval', 'approvers', 'windows', 'freezes', 'outsideWindow']) delete prod[key];
    for (const branch of Object.keys(svc.branches)) if (svc.branches[branch] === from) svc.branches[branch] = 'production';
  }
  return raw;
}

/**
 * The sample's raw config without its GitHub access (`github`, `checks`): handler tests that are not
 * about GitHub must not reach for a token or the GitHub API. Changes `raw` and returns it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function withoutGitHub<T extends { services: Record<string, any> }>(raw: T): T {
  for (const svc of Object.values(raw.services)) {
    delete svc.github;
    delete svc.checks;
  }
  return raw;
}

/** The plan of deployment `run-1` (commit abcdef1) with `edit` applied to the production environment's raw config. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function planFrom(edit: (env: any) => void = () => {}): DeploymentPlan {
  const copy = structuredClone(raw);
  edit(copy.services['hello-world'].environments.production);
  return resolvePlan(parseConfig(copy), {
    input: { service: 'hello-world', environment: 'production', release: { commit: 'abcdef1' } },
    execution: { id: 'arn:aws:states:us-east-1:123456789012:execution:cutover-deploy:run-1', name: 'run-1', startTime: '2024-05-01T12:00:00.000Z' },
  });
}
