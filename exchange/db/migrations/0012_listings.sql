-- Named listings (docs/negotiation.md): a supplier's offer (sell) or a buyer's wanted notice
-- (buy), shown with its poster; counterparties take all or part of it at its price, each take
-- a contract (source 'listing', source id the take's id).

CREATE TABLE listings (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    commodity_id      bigint NOT NULL REFERENCES commodities (id),
    poster_id         bigint NOT NULL REFERENCES participants (id),
    side              text NOT NULL CHECK (side IN ('buy', 'sell')),
    price_ticks       bigint NOT NULL CHECK (price_ticks > 0),
    quantity_lots     bigint NOT NULL CHECK (quantity_lots > 0),
    taken_lots        bigint NOT NULL DEFAULT 0 CHECK (taken_lots >= 0 AND taken_lots <= quantity_lots),
    min_take_lots     bigint NOT NULL CHECK (min_take_lots > 0),
    region            text NOT NULL REFERENCES regions (code),
    delivery_earliest date NOT NULL,
    delivery_latest   date NOT NULL CHECK (delivery_latest >= delivery_earliest),
    valid_until       timestamptz NOT NULL,
    specification     text NOT NULL,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'withdrawn')),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

CREATE INDEX listings_by_commodity ON listings (commodity_id, id);

CREATE TABLE listing_takes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    listing_id     bigint NOT NULL REFERENCES listings (id),
    taker_id       bigint NOT NULL REFERENCES participants (id),
    quantity_lots  bigint NOT NULL CHECK (quantity_lots > 0),
    contract_id    bigint NOT NULL,
    taken_at       timestamptz NOT NULL
);

CREATE INDEX listing_takes_by_listing ON listing_takes (listing_id, id);
