-- The foundation: regions, participants and their API keys, commodities, the audit trail.

CREATE TABLE regions (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE participants (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    legal_name           text NOT NULL,
    registration_number  text NOT NULL UNIQUE,
    contact_name         text NOT NULL,
    contact_email        text NOT NULL,
    contact_phone        text,
    home_region          text REFERENCES regions (code),
    roles                text[] NOT NULL CHECK (cardinality(roles) > 0),
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    participant_id  bigint NOT NULL REFERENCES participants (id),
    key_hash        bytea NOT NULL UNIQUE,
    prefix          text NOT NULL,
    label           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX api_keys_participant ON api_keys (participant_id);

CREATE TABLE commodities (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                  text NOT NULL UNIQUE,
    name                  text NOT NULL,
    unit                  text NOT NULL,
    currency              text NOT NULL,
    tick_size_minor       bigint NOT NULL CHECK (tick_size_minor > 0),
    lot_size_micro        bigint NOT NULL CHECK (lot_size_micro > 0),
    min_quantity_lots     bigint NOT NULL CHECK (min_quantity_lots > 0),
    fee_rate_bps          integer NOT NULL CHECK (fee_rate_bps BETWEEN 0 AND 10000),
    review_threshold_minor bigint NOT NULL CHECK (review_threshold_minor >= 0),
    payment_due_hours     integer NOT NULL CHECK (payment_due_hours > 0),
    trading_status        text NOT NULL DEFAULT 'active'
                          CHECK (trading_status IN ('active', 'halted')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id    bigint REFERENCES participants (id),
    action      text NOT NULL,
    target      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    request_id  text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_target ON audit_log (target, id);
