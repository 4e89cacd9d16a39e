-- Order entry: the journal of each book, its snapshots, orders, trades.
-- Tables that belong to a book carry commodity_id first in their key, so they can be
-- distributed by that column (Citus) when commodities are sharded across machines.

ALTER TABLE regions ADD COLUMN id integer GENERATED ALWAYS AS IDENTITY UNIQUE;

-- Every accepted command of a book, in sequence order: replaying it rebuilds the book.
CREATE TABLE book_journal (
    commodity_id  bigint NOT NULL REFERENCES commodities (id),
    sequence      bigint NOT NULL,
    command       bytea NOT NULL,          -- msgspec JSON of a matching.Command
    PRIMARY KEY (commodity_id, sequence)
);

-- The whole state of a book after `sequence`; recovery starts from the latest one.
CREATE TABLE book_snapshots (
    commodity_id  bigint NOT NULL REFERENCES commodities (id),
    sequence      bigint NOT NULL,
    taken_at      timestamptz NOT NULL DEFAULT now(),
    state         bytea NOT NULL,
    PRIMARY KEY (commodity_id, sequence)
);

-- client_order_id is unique per participant for good, across every book.
CREATE TABLE client_order_ids (
    participant_id   bigint NOT NULL REFERENCES participants (id),
    client_order_id  text NOT NULL,
    order_id         bigint NOT NULL,
    request_hash     bytea NOT NULL,
    PRIMARY KEY (participant_id, client_order_id)
);

CREATE TABLE orders (
    commodity_id     bigint NOT NULL REFERENCES commodities (id),
    id               bigint NOT NULL,       -- commodity_id << 40 | number within the book
    participant_id   bigint NOT NULL REFERENCES participants (id),
    client_order_id  text NOT NULL,
    side             text NOT NULL CHECK (side IN ('buy', 'sell')),
    price_ticks      bigint NOT NULL,
    quantity_lots    bigint NOT NULL,
    open_lots        bigint NOT NULL,
    filled_lots      bigint NOT NULL DEFAULT 0,
    time_in_force    text NOT NULL,
    min_fill_lots    bigint NOT NULL DEFAULT 0,
    expires_at       timestamptz,
    region_code      text,
    status           text NOT NULL CHECK (status IN ('open', 'partially_filled', 'filled',
                                                     'cancelled', 'expired', 'rejected')),
    reason           text,                  -- reject or cancel reason
    accepted_seq     bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (commodity_id, id)
);
CREATE INDEX orders_participant ON orders (participant_id, created_at DESC, id DESC);

CREATE TABLE trades (
    commodity_id     bigint NOT NULL REFERENCES commodities (id),
    id               bigint NOT NULL,        -- trade id within the book
    sequence         bigint NOT NULL,        -- journal sequence of the command that traded
    executed_at      timestamptz NOT NULL,
    price_ticks      bigint NOT NULL,
    quantity_lots    bigint NOT NULL,
    taker_side       text NOT NULL CHECK (taker_side IN ('buy', 'sell')),
    buy_order_id     bigint NOT NULL,
    sell_order_id    bigint NOT NULL,
    buyer_id         bigint NOT NULL REFERENCES participants (id),
    seller_id        bigint NOT NULL REFERENCES participants (id),
    buyer_region     text,
    seller_region    text,
    PRIMARY KEY (commodity_id, id)
);
CREATE INDEX trades_time ON trades (commodity_id, executed_at);
CREATE INDEX trades_buyer ON trades (buyer_id, executed_at);
CREATE INDEX trades_seller ON trades (seller_id, executed_at);
