/**
 * The contract between the RDS simulator (lib/local/simulator/rds.ts) and a real database engine
 * behind it ({@link PostgresHost} in ./host.ts serves PostgreSQL with PGlite).
 *
 * The RDS API is synchronous in the simulator, so every call here only STARTS work and returns at
 * once; the simulator polls {@link RdsEngine.databaseState} / {@link RdsEngine.snapshotState} /
 * {@link RdsEngine.endpointPort} when it computes a resource's status. Implementations never throw
 * from these methods and never let a rejected promise go unhandled: a failure shows as `failed`.
 *
 * Keys:
 * - a database key names one database (its data directory): the simulator uses the resource id of
 *   the DB instance (`db-…`) or, for Aurora, of the DB cluster (`cluster-…`; one database per cluster,
 *   served by its writer instance). Keys never change when the resource is renamed;
 * - a snapshot key names one snapshot file: the DB snapshot identifier, or `<identifier>.cluster` for
 *   a DB cluster snapshot (identifiers contain no dot, so the two never clash);
 * - an endpoint is an identifier of a DB instance or DB cluster (lower-case), the stand-in for the DNS
 *   name `<identifier>.<code>.<region>.rds.amazonaws.com` (or `<identifier>.cluster-<code>…`). It
 *   follows the identifier, not the resource: after a rename, clients of the old name reach whatever
 *   holds that name now.
 */

/** Progress of background work: `pending` (started, not done), `ready` (done) or `failed`. */
export type EngineState = 'pending' | 'ready' | 'failed';

/** Which identifier namespace an endpoint belongs to: DB instances and DB clusters are separate in RDS. */
export type EndpointKind = 'instance' | 'cluster';

/** A database engine the RDS simulator can drive (see the module comment for keys). */
export interface RdsEngine {
  /**
   * Start serving database `key`: reopen its data if it exists, else create it empty, or from
   * `from.snapshot` (a snapshot key given to {@link startSnapshot} earlier). A key that is already
   * served or starting is left as it is.
   */
  startDatabase(key: string, from?: { readonly snapshot: string }): void;
  /** `pending` while starting, `ready` while serving, `failed` if it could not start or stopped; `failed` for an unknown key. */
  databaseState(key: string): EngineState;
  /**
   * Take a consistent snapshot of database `key` as it is NOW (later writes are not in it) and store it
   * under `snapshot` (replacing a deleted snapshot of that key).
   */
  startSnapshot(key: string, snapshot: string): void;
  /** `pending` while the snapshot is written, `ready` once stored, `failed` if it could not be; `failed` for an unknown key. */
  snapshotState(snapshot: string): EngineState;
  /** Delete a stored snapshot (DeleteDBSnapshot); unknown keys are ignored. */
  deleteSnapshot(snapshot: string): void;
  /**
   * Point endpoint (`kind`, `identifier`) at database `key`, or at nothing (`undefined`: connections are
   * refused). Gives the endpoint its port on first use. When the holder changes, connections made
   * through the endpoint are closed, as a rename drops connections on RDS, so that clients reconnect.
   */
  route(kind: EndpointKind, identifier: string, key: string | undefined): void;
  /** Loopback port of an endpoint once it listens; `undefined` before (or for an endpoint never routed). */
  endpointPort(kind: EndpointKind, identifier: string): number | undefined;
}
