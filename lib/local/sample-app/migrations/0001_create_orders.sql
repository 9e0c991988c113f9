-- Release v1: the orders table.

-- Up Migration
CREATE TABLE orders (
  id serial PRIMARY KEY,
  item text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE orders;
