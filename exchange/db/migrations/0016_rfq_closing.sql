-- Closing RFQs (docs/negotiation.md, "Closing, auto-award and the rfqs channel"): how an RFQ
-- is awarded (`manual` by its buyer, or `auto` by the center at closing), the `expired` state
-- of an RFQ nobody awarded, and `lapsed` stored on the live quotes of an RFQ that expired.

ALTER TABLE rfqs ADD COLUMN award text NOT NULL DEFAULT 'manual'
    CHECK (award IN ('manual', 'auto'));

ALTER TABLE rfqs DROP CONSTRAINT IF EXISTS rfqs_status_check;
ALTER TABLE rfqs ADD CONSTRAINT rfqs_status_check
    CHECK (status IN ('open', 'cancelled', 'awarded', 'partially_awarded', 'expired'));

-- 'countered' belongs to the counter-offers (another migration may allow it too)
ALTER TABLE quotes DROP CONSTRAINT IF EXISTS quotes_status_check;
ALTER TABLE quotes ADD CONSTRAINT quotes_status_check
    CHECK (status IN ('submitted', 'countered', 'revised', 'withdrawn', 'awarded', 'declined',
                      'lapsed'));

-- the closing sweep looks at open RFQs by closing time
CREATE INDEX rfqs_closing ON rfqs (closes_at, id) WHERE status = 'open';
