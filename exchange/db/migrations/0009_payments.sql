-- Payments (docs/payments.md): who owns each ledger account, contracts' payment state, bank
-- notifications applied once, withdrawals, four-eyes adjustments, reminders, idempotency keys.

ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('available', 'escrow', 'revenue', 'clearing', 'withdrawals', 'suspense'));

-- ids of ledger accounts and transfers made by the payment flows (exactly-once comes from the
-- row that records the business event, taken in the same transaction)
CREATE SEQUENCE ledger_ids;

-- The owner of every ledger account: a participant's available funds, a contract's escrow, or
-- one of the center's own accounts per currency (revenue, clearing, withdrawals, suspense).
CREATE TABLE payment_accounts (
    account_id      bigint PRIMARY KEY REFERENCES ledger_accounts (id),
    kind            text NOT NULL,
    currency        text NOT NULL,
    participant_id  bigint REFERENCES participants (id),
    commodity_id    bigint,
    contract_id     bigint,
    FOREIGN KEY (commodity_id, contract_id) REFERENCES contracts (commodity_id, id),
    CHECK ((kind = 'available') = (participant_id IS NOT NULL)),
    CHECK ((kind = 'escrow') = (contract_id IS NOT NULL))
);
CREATE UNIQUE INDEX payment_accounts_participant ON payment_accounts (participant_id, currency)
    WHERE kind = 'available';
CREATE UNIQUE INDEX payment_accounts_contract ON payment_accounts (commodity_id, contract_id)
    WHERE kind = 'escrow';
CREATE UNIQUE INDEX payment_accounts_center ON payment_accounts (kind, currency)
    WHERE participant_id IS NULL AND contract_id IS NULL;

ALTER TABLE participants ADD COLUMN bank_account text;

ALTER TABLE commodities ADD COLUMN payment_grace_hours integer NOT NULL DEFAULT 72
    CHECK (payment_grace_hours >= 0);

ALTER TABLE contracts
    ADD COLUMN payment_reference text,
    ADD COLUMN payment_grace_until timestamptz,
    ADD COLUMN paid_minor bigint NOT NULL DEFAULT 0 CHECK (paid_minor >= 0),
    ADD COLUMN penalty_minor bigint NOT NULL DEFAULT 0 CHECK (penalty_minor >= 0),
    ADD COLUMN funded_at timestamptz;
CREATE UNIQUE INDEX contracts_payment_reference ON contracts (payment_reference);
CREATE INDEX contracts_payment_due ON contracts (payment_due_at) WHERE status = 'awaiting_payment';

-- Every bank notification that passed its signature check, applied exactly once by event id.
CREATE TABLE bank_events (
    event_id        text PRIMARY KEY,
    type            text NOT NULL,
    bank_reference  text NOT NULL,
    end_to_end_id   text NOT NULL,
    currency        text NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    reference       text NOT NULL,
    body            bytea NOT NULL,         -- the notification as received
    outcome         jsonb NOT NULL,         -- what applying it did: the answer to any duplicate
    source          text NOT NULL DEFAULT 'notification'
        CHECK (source IN ('notification', 'statement')),
    occurred_at     timestamptz NOT NULL,
    applied_at      timestamptz NOT NULL
);
CREATE INDEX bank_events_booking ON bank_events (bank_reference);

-- Withdrawals: available funds to the participant's registered bank account.
CREATE TABLE withdrawals (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    participant_id      bigint NOT NULL REFERENCES participants (id),
    currency            text NOT NULL,
    amount_minor        bigint NOT NULL CHECK (amount_minor > 0),
    bank_account        text NOT NULL,
    end_to_end_id       text NOT NULL UNIQUE,
    status              text NOT NULL
        CHECK (status IN ('pending', 'settled', 'rejected', 'returned')),
    pending_transfer_id bigint NOT NULL REFERENCES ledger_transfers (id),
    bank_reference      text,
    reason              text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX withdrawals_participant ON withdrawals (participant_id, id);
CREATE INDEX withdrawals_pending ON withdrawals (id) WHERE status = 'pending';

-- Operator adjustments: one operator proposes, a different one approves (four eyes).
CREATE TABLE adjustments (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    debit_account_id   bigint NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
    currency           text NOT NULL,
    amount_minor       bigint NOT NULL CHECK (amount_minor > 0),
    reason             text NOT NULL,
    status             text NOT NULL CHECK (status IN ('proposed', 'applied', 'declined')),
    proposed_by        bigint NOT NULL REFERENCES participants (id),
    decided_by         bigint REFERENCES participants (id),
    transfer_id        bigint REFERENCES ledger_transfers (id),
    proposed_at        timestamptz NOT NULL,
    decided_at         timestamptz,
    CHECK (decided_by IS NULL OR decided_by <> proposed_by)
);

-- Payment reminders sent, so each goes out once.
CREATE TABLE payment_reminders (
    commodity_id  bigint NOT NULL,
    contract_id   bigint NOT NULL,
    hours_before  integer NOT NULL,
    sent_at       timestamptz NOT NULL,
    PRIMARY KEY (commodity_id, contract_id, hours_before)
);

-- Idempotency-Key: the first answer to a POST, returned to every retry with the same key.
CREATE TABLE idempotency_keys (
    participant_id  bigint NOT NULL REFERENCES participants (id),
    key             text NOT NULL,
    operation       text NOT NULL,          -- method and route
    request_hash    bytea NOT NULL,         -- SHA-256 of the request body
    status          integer NOT NULL,
    response        bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, key)
);

-- Reconciliations run against the bank's daily statements.
CREATE TABLE reconciliations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    currency    text NOT NULL,
    day         date NOT NULL,
    clean       boolean NOT NULL,
    report      jsonb NOT NULL,
    run_by      bigint REFERENCES participants (id),
    run_at      timestamptz NOT NULL
);
CREATE INDEX reconciliations_day ON reconciliations (day, id);
