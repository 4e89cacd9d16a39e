-- The ledger (settlement/ledger holds the rules; exchange/payments/ledger_store.py applies them
-- here). Accounts carry their four balance sums; transfers are append-only.
CREATE TABLE ledger_accounts (
    id               bigint PRIMARY KEY,
    currency         text NOT NULL,
    kind             text NOT NULL
        CHECK (kind IN ('available', 'escrow', 'revenue', 'clearing', 'withdrawals')),
    limited          boolean NOT NULL,
    debits_pending   bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted    bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending  bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted   bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- a second line behind the rules: a limited account never spends what has not arrived
    CHECK (NOT limited OR debits_posted + debits_pending <= credits_posted)
);

CREATE TABLE ledger_transfers (
    id                 bigint PRIMARY KEY,
    debit_account_id   bigint NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
    amount             bigint NOT NULL CHECK (amount > 0 OR flags & 8 = 8 OR flags & 4 = 4),
    currency           text NOT NULL,
    flags              integer NOT NULL,
    pending_id         bigint REFERENCES ledger_transfers (id),
    pending            boolean NOT NULL,  -- it reserved its amount (flag PENDING)
    cause_kind         text NOT NULL,
    cause_reference    text NOT NULL,
    submitted          bytea NOT NULL,  -- the transfer as submitted: a retry must equal it
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (debit_account_id <> credit_account_id)
);
-- a pending transfer is posted or voided at most once, whatever the rules say
CREATE UNIQUE INDEX ledger_transfers_resolving ON ledger_transfers (pending_id)
    WHERE pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, id);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, id);

CREATE FUNCTION ledger_transfers_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger transfers are append-only: correct with a reversing transfer'
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER ledger_transfers_append_only
    BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_transfers_append_only();
CREATE TRIGGER ledger_transfers_no_truncate
    BEFORE TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_append_only();
