-- Requests for quotation (docs/negotiation.md, "RFQs"): a buyer asks suppliers (all of them, or
-- the invited ones) for quotes; suppliers quote, revise (every revision kept) or withdraw.

CREATE TABLE rfqs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    commodity_id      bigint NOT NULL REFERENCES commodities (id),
    buyer_id          bigint NOT NULL REFERENCES participants (id),
    mode              text NOT NULL CHECK (mode IN ('open', 'sealed', 'reverse_auction')),
    quantity_lots     bigint NOT NULL CHECK (quantity_lots > 0),
    min_quote_lots    bigint NOT NULL CHECK (min_quote_lots > 0 AND min_quote_lots <= quantity_lots),
    max_price_ticks   bigint CHECK (max_price_ticks > 0),
    region            text NOT NULL REFERENCES regions (code),
    delivery_earliest date NOT NULL,
    delivery_latest   date NOT NULL CHECK (delivery_latest >= delivery_earliest),
    closes_at         timestamptz NOT NULL,
    specification     text NOT NULL,
    invited_only      boolean NOT NULL,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cancelled', 'awarded', 'partially_awarded')),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

CREATE INDEX rfqs_by_buyer ON rfqs (buyer_id, id);
CREATE INDEX rfqs_open ON rfqs (id) WHERE status = 'open';

CREATE TABLE rfq_invitations (
    rfq_id       bigint NOT NULL REFERENCES rfqs (id),
    supplier_id  bigint NOT NULL REFERENCES participants (id),
    PRIMARY KEY (rfq_id, supplier_id)
);

CREATE INDEX rfq_invitations_by_supplier ON rfq_invitations (supplier_id, rfq_id);

CREATE TABLE quotes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rfq_id         bigint NOT NULL REFERENCES rfqs (id),
    supplier_id    bigint NOT NULL REFERENCES participants (id),
    revision       integer NOT NULL CHECK (revision > 0),
    price_ticks    bigint NOT NULL CHECK (price_ticks > 0),
    quantity_lots  bigint NOT NULL CHECK (quantity_lots > 0),
    origin_region  text NOT NULL REFERENCES regions (code),
    valid_until    timestamptz NOT NULL,
    status         text NOT NULL CHECK (status IN ('submitted', 'revised', 'withdrawn', 'awarded', 'declined')),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- one live quote per supplier and RFQ: a new offer is a revision of it
CREATE UNIQUE INDEX quotes_one_live ON quotes (rfq_id, supplier_id) WHERE status <> 'withdrawn';

CREATE TABLE quote_revisions (
    quote_id       bigint NOT NULL REFERENCES quotes (id),
    revision       integer NOT NULL,
    price_ticks    bigint NOT NULL,
    quantity_lots  bigint NOT NULL,
    origin_region  text NOT NULL,
    valid_until    timestamptz NOT NULL,
    made_at        timestamptz NOT NULL,
    PRIMARY KEY (quote_id, revision)
);

-- each award is one contract (source 'rfq', source id the award's id)
CREATE TABLE rfq_awards (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rfq_id         bigint NOT NULL REFERENCES rfqs (id),
    quote_id       bigint NOT NULL UNIQUE REFERENCES quotes (id),
    quantity_lots  bigint NOT NULL CHECK (quantity_lots > 0),
    contract_id    bigint NOT NULL,
    awarded_at     timestamptz NOT NULL
);

CREATE INDEX rfq_awards_by_rfq ON rfq_awards (rfq_id, id);
