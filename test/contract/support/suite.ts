/**
 * `contract(title, body)`: the same tests once per backend (moto, then the twin), each in its own
 * `describe` with a fresh backend and {@link Fixture}. Without `moto_server` on PATH the moto half is
 * skipped with the reason (the twin half still runs), unless {@link REQUIRE_MOTO_ENV} is `1`; `.ci/run`
 * refuses to run without it.
 */
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, type Backend, type BackendKind } from './backends';
import { seedFixture, type Fixture } from './fixture';
import { motoUnavailableReason } from './moto';

export interface ContractContext {
  readonly kind: BackendKind;
  /** Set once the `before` hook ran. */
  readonly backend: Backend;
  readonly fx: Fixture;
  /**
   * Test options that skip the test on moto, with `reason` (a known gap of moto, e.g. it finishes
   * snapshots at once), and run it on the twin.
   */
  notOnMoto(reason: string): { skip?: string };
}

let warned = false;

/**
 * Set to `1` (as `.ci/run` does) to fail instead of skipping the moto half when `moto_server` is missing.
 */
export const REQUIRE_MOTO_ENV = 'CUTOVER_CONTRACT_REQUIRE_MOTO';

/**
 * Define `body`'s tests for each backend.
 * @param title e.g. `ECS (lib/aws/ecs.ts)`
 */
export function contract(title: string, body: (ctx: ContractContext) => void): void {
  for (const kind of ['moto', 'twin'] as const) {
    const unavailable = kind === 'moto' ? motoUnavailableReason() : undefined;
    if (unavailable && process.env[REQUIRE_MOTO_ENV] === '1') {
      throw new Error(`${REQUIRE_MOTO_ENV}=1 and ${unavailable}`);
    }
    if (unavailable && !warned) {
      warned = true;
      process.stderr.write(`contract tests: skipping the moto backend: ${unavailable}\n`);
    }
    describe(`${title} [${kind}]`, unavailable ? { skip: unavailable } : {}, () => {
      let backend: Backend | undefined;
      let fx: Fixture | undefined;
      const ctx: ContractContext = {
        kind,
        get backend() {
          assert.ok(backend, 'the backend did not start');
          return backend;
        },
        get fx() {
          assert.ok(fx, 'the fixture was not seeded');
          return fx;
        },
        notOnMoto: (reason) => (kind === 'moto' ? { skip: `moto: ${reason}` } : {}),
      };
      before(async () => {
        backend = await startBackend(kind);
        fx = await seedFixture(backend);
      });
      after(async () => {
        await backend?.stop();
      });
      body(ctx);
    });
  }
}

/**
 * Assert that `promise` rejects with the SDK exception `name` (the error code AWS answers), and, when
 * `Class` is given, with an instance of that SDK class (what cutover's adapters check with `instanceof`).
 * @returns the error
 */
export async function rejectsWith(promise: Promise<unknown>, name: string, Class?: new (...args: never[]) => Error): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, `expected ${name}, but the call succeeded`);
  assert.equal(caught.name, name, `expected ${name}, got ${caught.name}: ${caught.message}`);
  if (Class) assert.ok(caught instanceof Class, `${name} is not an instance of the SDK's ${Class.name} (adapters check with instanceof)`);
  return caught;
}
