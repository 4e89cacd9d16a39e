-- Who may trade. Every batch of a book's writer reads `epoch` under a share lock, and a
-- suspension or reactivation raises it under the row's exclusive lock: a batch either commits
-- before the suspension does or sees it, so no order of a suspended participant trades after
-- its suspension is committed. The writer reloads the suspended participants when the epoch
-- has moved, and cancels their resting orders through the journal.
CREATE TABLE trading_gate (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch  bigint NOT NULL DEFAULT 0
);
INSERT INTO trading_gate DEFAULT VALUES;
