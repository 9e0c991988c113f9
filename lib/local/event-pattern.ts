/**
 * EventBridge event-pattern matching for the local twin (the subset cutover's rules use):
 * literal values in arrays (OR), nested objects (AND), and the content filters `prefix`,
 * `anything-but` and `exists`. Semantics per "Amazon EventBridge event patterns" in the EventBridge
 * User Guide: a field's array matches when the event's value (or any element of an array value)
 * equals one of the listed values.
 */
type Pattern = { [key: string]: readonly unknown[] | Pattern };

function matchValue(rule: unknown, value: unknown, present: boolean): boolean {
  if (rule !== null && typeof rule === 'object' && !Array.isArray(rule)) {
    const r = rule as Record<string, unknown>;
    if ('exists' in r) return r.exists ? present : !present;
    if (!present) return false;
    if ('prefix' in r) return typeof value === 'string' && value.startsWith(String(r.prefix));
    if ('anything-but' in r) {
      const but = Array.isArray(r['anything-but']) ? r['anything-but'] : [r['anything-but']];
      return !but.some((b) => b === value);
    }
    throw new Error(`event pattern filter ${JSON.stringify(rule)} is not supported by the local twin`);
  }
  return present && rule === value;
}

/** Does `event` match `pattern`? */
export function matchesPattern(pattern: Pattern, event: Record<string, unknown>): boolean {
  for (const [key, rule] of Object.entries(pattern)) {
    const present = Object.prototype.hasOwnProperty.call(event, key);
    const value = event[key];
    if (Array.isArray(rule)) {
      const values = Array.isArray(value) ? value : [value];
      if (!rule.some((r) => values.some((v) => matchValue(r, v, present)))) return false;
    } else {
      if (!present || value === null || typeof value !== 'object') return false;
      if (!matchesPattern(rule as Pattern, value as Record<string, unknown>)) return false;
    }
  }
  return true;
}
