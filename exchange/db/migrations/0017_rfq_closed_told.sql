-- Closing told (docs/negotiation.md, "Closing, auto-award and the rfqs channel"): when the
-- closing sweep told the parties on the `rfqs` channel that a manually awarded RFQ closed (for a
-- sealed one: that its quotes are revealed to its buyer); null until then, so each is told once.

ALTER TABLE rfqs ADD COLUMN closed_told_at timestamptz;

CREATE INDEX rfqs_closed_untold ON rfqs (closes_at, id)
    WHERE status = 'open' AND closed_told_at IS NULL;
