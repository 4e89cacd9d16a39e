-- Electronic contracts: one per trade, signed and chained per commodity.

ALTER TABLE commodities
    ADD COLUMN delivery_days integer NOT NULL DEFAULT 14 CHECK (delivery_days > 0),
    ADD COLUMN late_payment_penalty_bps integer NOT NULL DEFAULT 5
        CHECK (late_payment_penalty_bps BETWEEN 0 AND 10000),
    ADD COLUMN late_delivery_penalty_bps integer NOT NULL DEFAULT 5
        CHECK (late_delivery_penalty_bps BETWEEN 0 AND 10000),
    ADD COLUMN claim_window_days integer NOT NULL DEFAULT 7 CHECK (claim_window_days > 0);

-- Every public key the center has signed with; a contract names the key that signed it.
CREATE TABLE signing_keys (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_key  bytea NOT NULL UNIQUE,       -- raw Ed25519 public key, 32 bytes
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The head of each commodity's chain: contracts are appended under this row's lock.
CREATE TABLE contract_chains (
    commodity_id  bigint PRIMARY KEY REFERENCES commodities (id),
    length        bigint NOT NULL DEFAULT 0,
    last_hash     bytea NOT NULL
);

CREATE TABLE contracts (
    commodity_id     bigint NOT NULL REFERENCES commodities (id),
    id               bigint NOT NULL,
    number           text NOT NULL UNIQUE,
    chain_position   bigint NOT NULL,
    trade_id         bigint UNIQUE,
    buyer_id         bigint NOT NULL REFERENCES participants (id),
    seller_id        bigint NOT NULL REFERENCES participants (id),
    amount_minor     bigint NOT NULL,
    fee_minor        bigint NOT NULL,
    currency         text NOT NULL,
    status           text NOT NULL,
    terms            bytea NOT NULL,         -- the canonical JSON that was hashed and signed
    hash             bytea NOT NULL,         -- SHA-256 of terms
    previous_hash    bytea NOT NULL,         -- hash of the previous contract in the chain
    signature        bytea NOT NULL,         -- Ed25519 over terms
    key_id           integer NOT NULL REFERENCES signing_keys (id),
    signed_at        timestamptz NOT NULL,
    payment_due_at   timestamptz,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (commodity_id, id),
    UNIQUE (commodity_id, chain_position)
);
CREATE INDEX contracts_buyer ON contracts (buyer_id, id);
CREATE INDEX contracts_seller ON contracts (seller_id, id);
CREATE INDEX contracts_status ON contracts (status, id);

CREATE TABLE contract_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    commodity_id  bigint NOT NULL,
    contract_id   bigint NOT NULL,
    from_status   text,
    to_status     text NOT NULL,
    actor_id      bigint REFERENCES participants (id),
    reason        text,
    at            timestamptz NOT NULL
);
CREATE INDEX contract_history_contract ON contract_history (commodity_id, contract_id, id);
