declare module 'dynalite' {
  import type { Server } from 'node:http';
  /** dynalite: DynamoDB over HTTP. `path` persists to LevelDB; without it data lives in memory. */
  export default function dynalite(options?: {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }): Server;
}
