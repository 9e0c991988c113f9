-- Release v2: orders get a priority. Expand-only, so that v1 keeps working against this schema while
-- v1 and v2 share the database during the canary: add the column nullable, backfill the existing rows,
-- then give it a default (v1's INSERTs, which do not name the column, get it) and make it NOT NULL.

-- Up Migration
ALTER TABLE orders ADD COLUMN priority text;
UPDATE orders SET priority = 'standard' WHERE priority IS NULL;
ALTER TABLE orders
  ALTER COLUMN priority SET DEFAULT 'standard',
  ALTER COLUMN priority SET NOT NULL,
  ADD CONSTRAINT orders_priority_check CHECK (priority IN ('standard', 'express'));

-- Down Migration
ALTER TABLE orders DROP COLUMN priority;
