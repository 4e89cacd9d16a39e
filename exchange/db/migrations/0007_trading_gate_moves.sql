-- For whom the trading gate moved, and how far each book has looked. A book whose gate
-- moved reads only the participants of the moves after its own epoch and sweeps only their
-- resting orders (through the participant index), instead of scanning all its orders; after
-- a restart it starts from the epoch it recorded with its last sweep. The moves are operator
-- actions (suspensions, reactivations, role changes): the table stays small.
CREATE TABLE trading_gate_moves (
    epoch           bigint NOT NULL,
    participant_id  bigint NOT NULL,  -- no foreign key: the move comes first, the check after
    PRIMARY KEY (epoch, participant_id)
);

CREATE TABLE book_gate (
    commodity_id  bigint PRIMARY KEY REFERENCES commodities (id),
    epoch         bigint NOT NULL
);

-- a move always says for whom
DROP FUNCTION trading_gate_move();

CREATE FUNCTION trading_gate_move(participant bigint) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    moved bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(2126777320);
    UPDATE trading_gate SET epoch = epoch + 1 RETURNING epoch INTO moved;
    INSERT INTO trading_gate_moves (epoch, participant_id) VALUES (moved, participant);
END
$$;
