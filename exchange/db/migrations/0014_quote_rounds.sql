-- Counters and the negotiation history of a quote (docs/negotiation.md, "Counters and
-- negotiation history"): every round of a quote (quoted, revised, countered, accepted,
-- rejected, withdrawn, awarded, declined) is kept, with who made it, on which side, the terms
-- it names, a message and when.

CREATE TABLE quote_rounds (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    quote_id        bigint NOT NULL REFERENCES quotes (id),
    participant_id  bigint NOT NULL REFERENCES participants (id),
    side            text NOT NULL CHECK (side IN ('buyer', 'supplier')),
    action          text NOT NULL CHECK (action IN ('quoted', 'revised', 'countered', 'accepted',
                                                    'rejected', 'withdrawn', 'awarded',
                                                    'declined')),
    revision        integer NOT NULL CHECK (revision > 0),  -- the quote's revision the round is about
    price_ticks     bigint NOT NULL CHECK (price_ticks > 0),
    quantity_lots   bigint NOT NULL CHECK (quantity_lots > 0),
    message         text NOT NULL,
    made_at         timestamptz NOT NULL
);

CREATE INDEX quote_rounds_by_quote ON quote_rounds (quote_id, id);

-- The buyer's counter that waits for the supplier's answer (one at a time). A quote with one
-- shows as `countered`; its stored status stays what it was (submitted or revised), which is
-- the state a rejected counter returns it to.
ALTER TABLE quotes ADD COLUMN pending_counter bigint REFERENCES quote_rounds (id);

-- quotes made before this migration: their rounds, from what was kept of them
INSERT INTO quote_rounds (quote_id, participant_id, side, action, revision, price_ticks,
                          quantity_lots, message, made_at)
SELECT r.quote_id, q.supplier_id, 'supplier',
       CASE WHEN r.revision = 1 THEN 'quoted' ELSE 'revised' END,
       r.revision, r.price_ticks, r.quantity_lots, '', r.made_at
  FROM quote_revisions r JOIN quotes q ON q.id = r.quote_id
 ORDER BY r.made_at, r.quote_id, r.revision;
