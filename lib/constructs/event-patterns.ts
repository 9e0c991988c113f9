/**
 * EventBridge caps an event pattern at 2,048 characters (EventBridge quotas, "Event pattern size";
 * adjustable). A fleet's alarm names or CodeCommit repositories pass that: 50 services made patterns of
 * 3,442 and 3,930 characters, which CloudFormation would refuse at deploy time. So cutover splits the
 * services into groups whose patterns fit, and creates one rule per group with the same target.
 */
import type { Config } from '../config/schema';

/** EventBridge's default quota on an event pattern's size, in characters. */
export const EVENT_PATTERN_LIMIT = 2048;

/** Longest values of the parts of an ARN a pattern may hold as tokens, for estimating its size. */
export const LONGEST_ARN_CONTEXT = { partition: 'aws-us-gov', region: 'ap-southeast-5', account: '111122223333' } as const;

/**
 * Split the config's services into consecutive groups whose pattern (built by `patternOf` from a
 * config with only that group's services) stays within `limit` characters.
 * @param patternOf the pattern of a config, `undefined` when the group needs no rule
 * @returns configs of one group each, in order, only those with a pattern
 * @throws Error naming the service when one service's pattern alone passes the limit
 */
export function splitByPatternSize(config: Config, patternOf: (c: Config) => unknown, limit = EVENT_PATTERN_LIMIT): Config[] {
  const size = (c: Config) => {
    const p = patternOf(c);
    return p === undefined ? 0 : JSON.stringify(p).length;
  };
  const groups: Config[] = [];
  let current: Config['services'] = {};
  for (const [name, service] of Object.entries(config.services)) {
    const candidate = { ...current, [name]: service };
    if (size({ ...config, services: candidate }) <= limit) {
      current = candidate;
      continue;
    }
    if (Object.keys(current).length === 0 || size({ ...config, services: { [name]: service } }) > limit) {
      throw new Error(`CutoverStackProps.config: services.${name} alone makes an EventBridge pattern over ${limit} characters; shorten its alarm names or branches.`);
    }
    groups.push({ ...config, services: current });
    current = { [name]: service };
  }
  if (Object.keys(current).length > 0) groups.push({ ...config, services: current });
  return groups.filter((g) => patternOf(g) !== undefined);
}
