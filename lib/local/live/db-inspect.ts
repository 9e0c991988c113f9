/**
 * Read-only looks into a twin database, for the demo's and tests' checks: the schema (tables and
 * columns), row counts, applied migrations, and whether acknowledged writes are all still there.
 */
import pg from 'pg';

/** The schema and row counts of a database's `public` schema. */
export interface DatabaseShape {
  /** `table` → its column names in ordinal order. */
  columns: Record<string, string[]>;
  /** `table` → row count. */
  rows: Record<string, number>;
}

/**
 * Run `fn` with one client connected to `url`, then close it.
 * @throws the pg error when the connection or a query fails
 */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Tables, columns and row counts of the `public` schema. */
export async function databaseShape(url: string): Promise<DatabaseShape> {
  return withClient(url, async (client) => {
    const cols = await client.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    );
    const columns: Record<string, string[]> = {};
    for (const r of cols.rows) (columns[r.table_name] ??= []).push(r.column_name);
    const rows: Record<string, number> = {};
    for (const table of Object.keys(columns)) {
      const res = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${table.replaceAll('"', '""')}"`);
      rows[table] = Number(res.rows[0]!.n);
    }
    return { columns, rows };
  });
}

/**
 * Which of `ids` have no row in `table` (by its `id` column).
 * @returns the missing ids, ascending; empty when every acknowledged write is there
 */
export async function missingIds(url: string, table: string, ids: readonly number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  return withClient(url, async (client) => {
    const res = await client.query<{ id: number }>(
      `SELECT x.id FROM unnest($1::int[]) AS x(id) LEFT JOIN "${table.replaceAll('"', '""')}" t ON t.id = x.id WHERE t.id IS NULL ORDER BY x.id`,
      [ids],
    );
    return res.rows.map((r) => Number(r.id));
  });
}
