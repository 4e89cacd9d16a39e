-- Who may trade. Every batch of a book's writer passes the gate (a shared advisory lock, then
-- the epoch), and a suspension or reactivation moves it (the exclusive lock, then a new
-- epoch) first thing in its transaction: a batch either commits before the suspension does
-- or sees it, so no order of a suspended participant trades after its suspension is
-- committed. A writer reloads the suspended participants when the epoch has moved, and
-- cancels their resting orders through the journal. Advisory locks, not a row lock: the hot
-- path writes nothing for them.
CREATE TABLE trading_gate (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch  bigint NOT NULL DEFAULT 0
);
INSERT INTO trading_gate DEFAULT VALUES;

-- plpgsql, so the epoch is read with a snapshot taken after the lock is granted
CREATE FUNCTION trading_gate_pass() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(2126777320);
    RETURN (SELECT epoch FROM trading_gate);
END
$$;

CREATE FUNCTION trading_gate_move() RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(2126777320);
    UPDATE trading_gate SET epoch = epoch + 1;
END
$$;
