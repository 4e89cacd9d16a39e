-- Every contract records where its deal came from: the order book (its trade), a listing (the
-- take) or an RFQ (the award). Contracts so far all came from the book.

ALTER TABLE contracts
    ADD COLUMN source text,
    ADD COLUMN source_id bigint;

UPDATE contracts SET source = 'book', source_id = trade_id;

ALTER TABLE contracts
    ALTER COLUMN source SET NOT NULL,
    ALTER COLUMN source_id SET NOT NULL,
    ADD CONSTRAINT contracts_source CHECK (source IN ('book', 'listing', 'rfq')),
    ADD CONSTRAINT contracts_book_trade
        CHECK ((source = 'book') = (trade_id IS NOT NULL) AND source_id = COALESCE(trade_id, source_id)),
    -- a book contract's id is its trade's (bit 39 of the number within the commodity clear);
    -- every other contract's has bit 39 set, so the two never collide (docs/contracts.md)
    ADD CONSTRAINT contracts_id_by_source
        CHECK ((source = 'book') = (id & 549755813888 = 0)),
    ADD CONSTRAINT contracts_source_once UNIQUE (commodity_id, source, source_id);
