-- Operators list every participant's orders, newest first (GET /v1/orders without
-- participant_id): keyset pages walk this index instead of sorting the whole table.
CREATE INDEX orders_time ON orders (created_at DESC, id DESC);
