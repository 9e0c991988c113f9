/**
 * What construct tests pass to `CutoverStack` besides the config: the sample's task and execution role
 * ARNs, read from cdk.json's `cutover:taskRoleArns` context (what `cdk synth` of the sample uses).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR } from '../../lib/catalog';

/** The sample's ECS task and execution role ARNs (cdk.json `cutover:taskRoleArns`). */
export const TASK_ROLES: readonly string[] = JSON.parse(readFileSync(join(ROOT_DIR, 'cdk.json'), 'utf8')).context['cutover:taskRoleArns'];
