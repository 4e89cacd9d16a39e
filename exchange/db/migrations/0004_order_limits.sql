-- Operators' fat-finger guards per commodity: a price band around a reference price, and a
-- maximum order quantity. NULL: no band / no maximum.

ALTER TABLE commodities
    ADD COLUMN reference_price_minor bigint CHECK (reference_price_minor > 0),
    ADD COLUMN price_band_bps integer CHECK (price_band_bps BETWEEN 1 AND 10000),
    ADD COLUMN max_order_lots bigint CHECK (max_order_lots > 0),
    ADD CONSTRAINT commodities_band_complete
        CHECK ((reference_price_minor IS NULL) = (price_band_bps IS NULL));
