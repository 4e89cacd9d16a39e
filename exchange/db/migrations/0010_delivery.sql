-- Delivery (docs/delivery.md): regional nodes and their lanes, delivery tasks and their
-- timelines, operator alerts, claims, ratings.

CREATE TABLE nodes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    name            text NOT NULL,
    participant_id  bigint NOT NULL UNIQUE REFERENCES participants (id),
    daily_capacity  integer NOT NULL CHECK (daily_capacity > 0),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    last_seen_at    timestamptz,             -- the last heartbeat (or WebSocket activity)
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE node_regions (
    node_id      bigint NOT NULL REFERENCES nodes (id),
    region_code  text NOT NULL REFERENCES regions (code),
    PRIMARY KEY (node_id, region_code)
);

-- A node's freight lanes: public market information (the RFQ issue ranks quotes by them).
CREATE TABLE lanes (
    node_id             bigint NOT NULL REFERENCES nodes (id),
    origin_region       text NOT NULL REFERENCES regions (code),
    destination_region  text NOT NULL REFERENCES regions (code),
    commodity_id        bigint NOT NULL REFERENCES commodities (id),
    rate_minor          bigint NOT NULL CHECK (rate_minor >= 0),  -- per whole unit, commodity currency
    transit_days        integer NOT NULL CHECK (transit_days BETWEEN 0 AND 365),
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (node_id, origin_region, destination_region, commodity_id)
);
CREATE INDEX lanes_route ON lanes (commodity_id, origin_region, destination_region);

-- What delivery records on the contract itself (payments and credit read these, not tasks).
ALTER TABLE contracts
    ADD COLUMN delivery_due_at timestamptz,          -- end of the delivery window
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN delivered_quantity_micro bigint CHECK (delivered_quantity_micro >= 0),
    ADD COLUMN claim_window_until timestamptz,
    ADD COLUMN shortage_settlement text CHECK (shortage_settlement IN ('pro_rata', 'backorder')),
    ADD COLUMN backorder_due_at timestamptz,
    ADD COLUMN accepted_at timestamptz,
    ADD COLUMN late_delivery_penalty_minor bigint NOT NULL DEFAULT 0
        CHECK (late_delivery_penalty_minor >= 0);

CREATE TABLE delivery_tasks (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    commodity_id        bigint NOT NULL,
    contract_id         bigint NOT NULL,
    attempt             integer NOT NULL DEFAULT 1 CHECK (attempt > 0),  -- 2: the backorder
    status              text NOT NULL CHECK (status IN ('waiting', 'assigned', 'accepted',
                        'picked_up', 'in_transit', 'delivered', 'failed', 'cancelled')),
    node_id             bigint REFERENCES nodes (id),
    origin_region       text NOT NULL,
    destination_region  text NOT NULL,
    quantity_micro      bigint NOT NULL CHECK (quantity_micro > 0),
    window_start        timestamptz NOT NULL,
    window_end          timestamptz NOT NULL,
    offer_expires_at    timestamptz,
    delivery_code       text NOT NULL,          -- shown to the buyer only
    wrong_codes         integer NOT NULL DEFAULT 0,
    available_micro     bigint,                 -- what a shortage event said is available
    delivered_micro     bigint,
    receiver_name       text,
    proof_sha256        text,
    delivered_at        timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    FOREIGN KEY (commodity_id, contract_id) REFERENCES contracts (commodity_id, id),
    UNIQUE (commodity_id, contract_id, attempt)
);
CREATE INDEX delivery_tasks_node ON delivery_tasks (node_id, status);
CREATE INDEX delivery_tasks_open ON delivery_tasks (status)
    WHERE status IN ('waiting', 'assigned', 'accepted', 'picked_up', 'in_transit');

-- Every offer made and how it ended: a node that rejected or let an offer lapse is not asked
-- again for that task.
CREATE TABLE task_offers (
    task_id     bigint NOT NULL REFERENCES delivery_tasks (id),
    node_id     bigint NOT NULL REFERENCES nodes (id),
    offered_at  timestamptz NOT NULL,
    outcome     text CHECK (outcome IN ('accepted', 'rejected', 'expired', 'withdrawn')),
    reason      text,
    PRIMARY KEY (task_id, node_id)
);

-- The task's timeline, as buyer, supplier, node and operators see it.
CREATE TABLE task_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id   bigint NOT NULL REFERENCES delivery_tasks (id),
    kind      text NOT NULL,
    node_id   bigint REFERENCES nodes (id),
    detail    jsonb NOT NULL DEFAULT '{}',
    at        timestamptz NOT NULL
);
CREATE INDEX task_events_task ON task_events (task_id, id);

-- What operators must look at: no node for a task, a silent node, wrong delivery codes ...
CREATE TABLE alerts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL,
    subject          text NOT NULL,              -- e.g. "task:12", "node:NORTH"
    message          text NOT NULL,
    detail           jsonb NOT NULL DEFAULT '{}',
    raised_at        timestamptz NOT NULL,
    acknowledged_by  bigint REFERENCES participants (id),
    acknowledged_at  timestamptz
);
-- one open alert per kind and subject
CREATE UNIQUE INDEX alerts_open ON alerts (kind, subject) WHERE acknowledged_at IS NULL;

CREATE TABLE claims (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    commodity_id     bigint NOT NULL,
    contract_id      bigint NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('quantity', 'quality', 'damage')),
    amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
    description      text NOT NULL,
    evidence         text[] NOT NULL DEFAULT '{}',  -- SHA-256 hex of each piece
    status           text NOT NULL CHECK (status IN ('open', 'answered', 'resolved')),
    answer           text,
    answered_at      timestamptz,
    resolution       text CHECK (resolution IN ('release_full', 'refund_part', 'refund_all')),
    refund_minor     bigint CHECK (refund_minor >= 0),
    reason           text,
    resolved_by      bigint REFERENCES participants (id),
    opened_at        timestamptz NOT NULL,
    resolved_at      timestamptz,
    FOREIGN KEY (commodity_id, contract_id) REFERENCES contracts (commodity_id, id)
);
-- one claim a contract
CREATE UNIQUE INDEX claims_contract ON claims (commodity_id, contract_id);

CREATE TABLE ratings (
    commodity_id  bigint NOT NULL,
    contract_id   bigint NOT NULL,
    rater_id      bigint NOT NULL REFERENCES participants (id),
    ratee_id      bigint NOT NULL REFERENCES participants (id),
    score         integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment       text NOT NULL DEFAULT '',
    rated_at      timestamptz NOT NULL,
    PRIMARY KEY (commodity_id, contract_id, rater_id),
    FOREIGN KEY (commodity_id, contract_id) REFERENCES contracts (commodity_id, id)
);
CREATE INDEX ratings_ratee ON ratings (ratee_id);
