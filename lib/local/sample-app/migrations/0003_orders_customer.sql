-- Release v4: link orders to customers. The bug this release ships: the `customers` table exists only
-- on the developer's machine. The first statement succeeds, the second fails with
-- `relation "customers" does not exist`; the migration runs in a transaction, so the column added by
-- the first statement is rolled back with it and the database stays exactly as v2 left it.

-- Up Migration
ALTER TABLE orders ADD COLUMN customer_id integer;
ALTER TABLE orders
  ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id);

-- Down Migration
ALTER TABLE orders DROP COLUMN customer_id;
