-- RFQ modes (docs/negotiation.md, "Sealed quotes and reverse auctions"): a reverse auction's
-- soft-close window, and the closing time it had before bids in that window moved it.

ALTER TABLE rfqs
    ADD COLUMN soft_close_minutes integer CHECK (soft_close_minutes BETWEEN 1 AND 60),
    -- the closing time asked for; null until a bid first extends closes_at
    ADD COLUMN original_closes_at timestamptz,
    ADD COLUMN extensions integer NOT NULL DEFAULT 0 CHECK (extensions >= 0),
    ADD CONSTRAINT rfqs_soft_close_in_auctions
        CHECK ((mode = 'reverse_auction') = (soft_close_minutes IS NOT NULL));
