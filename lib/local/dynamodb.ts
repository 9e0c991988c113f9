/**
 * DynamoDB for the local twin: dynalite (a DynamoDB implementation) on a loopback port, in memory,
 * with cutover's table created the way the CDK app defines it (keys from lib/catalog.ts), and the
 * Scan / BatchWriteItem helpers the living twin uses to carry the table across restarts
 * (lib/local/live/persist.ts).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { TABLE_KEYS } from '../catalog';

export interface LocalDynamo {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  close(): Promise<void>;
}

/** Start dynalite on 127.0.0.1 (port 0 = any free port). Tables become ACTIVE at once. */
export async function startDynalite(port = 0): Promise<LocalDynamo> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Create cutover's table (pk/sk strings, on-demand) — the same key schema as the CDK table. */
export async function createLedgerTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
    }),
  );
}

/** A table item as the document client reads and writes it (plain JS values; keys `pk` and `sk`). */
export type TableItem = Record<string, unknown>;

/** Items per BatchWriteItem request (DynamoDB's limit). */
const BATCH_SIZE = 25;

/**
 * Every item of a table (Scan, following `LastEvaluatedKey`), in the order DynamoDB returns them.
 * @throws the SDK's exception when a Scan fails (e.g. ResourceNotFoundException for an unknown table)
 */
export async function scanItems(client: DynamoDBDocumentClient, tableName: string): Promise<TableItem[]> {
  const items: TableItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as TableItem[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Put items into a table with BatchWriteItem (25 per request), writing unprocessed items again.
 * An item with the same key is replaced, as PutItem does.
 * @param attempts requests per batch before giving up on its unprocessed items @default 5
 * @throws Error naming the table and the number of items left when unprocessed items remain; the
 *   SDK's exception when a request fails
 */
export async function putItems(client: DynamoDBDocumentClient, tableName: string, items: readonly TableItem[], attempts = 5): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH_SIZE) {
    let requests = items.slice(i, i + BATCH_SIZE).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 1; requests.length > 0; attempt++) {
      if (attempt > attempts) throw new Error(`BatchWriteItem to ${tableName} left ${requests.length} item(s) unprocessed after ${attempts} attempts.`);
      const out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (out.UnprocessedItems?.[tableName] ?? []) as typeof requests;
      if (requests.length > 0) await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}
