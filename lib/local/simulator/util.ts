/**
 * Small helpers shared by the simulated services: identifiers, pagination, timed states.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { SimClock } from '../clock';
import type { ServiceErrors } from './errors';

/** Everything a simulated service needs from the simulator that owns it. */
export interface SimContext {
  readonly clock: SimClock;
  /** Region used in the ARNs the simulator makes, e.g. `us-east-1`. */
  readonly region: string;
  /** 12-digit account id used in the ARNs the simulator makes. */
  readonly accountId: string;
}

/** `n` random lower-case hex digits (ELBv2 ids, ECS task ids). */
export function hexId(n: number): string {
  return randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
}

/** `n` random decimal digits, first one non-zero (ECS deployment ids `ecs-svc/<19 digits>`). */
export function digitsId(n: number): string {
  let s = String(randomInt(1, 10));
  while (s.length < n) s += String(randomInt(0, 10));
  return s;
}

/** `n` random lower-case letters and digits (RDS endpoint codes, Secrets Manager ARN suffixes). */
export function alnumId(n: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(0, alphabet.length)];
  return s;
}

/** Deep copy for handing state out of the simulator (callers must not be able to mutate it). */
export function copy<T>(value: T): T {
  return structuredClone(value);
}

export interface PageRequest {
  /** Requested page size, validated against [min, max]. */
  readonly size?: number;
  /** Token returned by the previous page. */
  readonly token?: string;
  /** Page size when none is requested. */
  readonly defaultSize: number;
  readonly min: number;
  readonly max: number;
  /** Name of the size field in the API (for the validation message), e.g. `MaxRecords`. */
  readonly sizeField: string;
}

/**
 * One page of `items` as the APIs paginate: an opaque token holds the offset of the next page.
 * @throws the service's validation exception for a size out of range; `invalidToken()` for a token
 *   this simulator did not issue
 */
export function paginate<T>(
  items: readonly T[],
  req: PageRequest,
  errors: ServiceErrors,
  invalidToken: () => never,
): { page: T[]; next?: string } {
  errors.integerInRange(req.sizeField, req.size, req.min, req.max);
  const size = req.size ?? req.defaultSize;
  let offset = 0;
  if (req.token !== undefined) {
    const match = /^sim-page-(\d+)$/.exec(Buffer.from(req.token, 'base64url').toString('utf8'));
    if (!match) invalidToken();
    offset = Number(match[1]);
  }
  const page = items.slice(offset, offset + size);
  const nextOffset = offset + size;
  return {
    page,
    next: nextOffset < items.length ? Buffer.from(`sim-page-${nextOffset}`, 'utf8').toString('base64url') : undefined,
  };
}

/**
 * A status that changes to `next.status` once simulated time reaches `next.atMs`
 * (`creating` → `available`). Read it with {@link settle}.
 */
export interface Timed<S extends string> {
  status: S;
  next?: { atMs: number; status: S };
}

/** The status of `t` at `nowMs`, applying a due transition. */
export function settle<S extends string>(t: Timed<S>, nowMs: number): S {
  if (t.next && nowMs >= t.next.atMs) {
    t.status = t.next.status;
    t.next = undefined;
  }
  return t.status;
}

/** Set `t` to `status` now and to `then` after `seconds` simulated seconds. */
export function transition<S extends string>(t: Timed<S>, status: S, then: S, seconds: number, nowMs: number): void {
  t.status = status;
  t.next = { atMs: nowMs + seconds * 1000, status: then };
}

/** The part of an ARN after the last `sep` (`...:cluster/prod` → `prod`), or the value itself if it is no ARN. */
export function nameFromArn(value: string, sep = '/'): string {
  if (!value.startsWith('arn:')) return value;
  return value.slice(value.lastIndexOf(sep) + 1);
}
