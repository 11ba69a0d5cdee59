-- Outgoing webhooks: subscriptions with their filters, and one delivery per (subscription, alert change).

-- Who wants to be told, where, and about what. The secret is kept in clear because it is needed to sign every
-- delivery (HMAC-SHA256); the admin API never shows it again after creation.
create table alerts.webhook_subscription (
    id bigint generated always as identity primary key,
    name text not null check (length(btrim(name)) between 1 and 100),
    url text not null check (url ~ '^https?://'),
    secret text not null check (length(secret) >= 16),
    -- alert zone codes; empty = every zone (alerts without a zone included)
    zones text[] not null default '{}',
    -- the least severe colour an alert must have reached (its peak) to be delivered
    min_level text not null default 'gialla' check (min_level in ('gialla', 'arancione', 'rossa')),
    categories text[] not null default '{hydro,manual}'
        check (cardinality(categories) > 0 and categories <@ array['hydro', 'technical', 'manual']),
    active boolean not null default true,
    created_at timestamptz not null default now(),
    created_by text,
    constraint webhook_subscription_name_key unique (name)
);

-- One row per change of an alert per matching subscription: the unique key makes a change delivered at most once
-- per subscription even when it is enqueued twice (a replayed event, two evaluators racing). No foreign key to
-- alerts.alert: the payload is the alert as it was at that change, and the delivery log outlives the alert.
create table alerts.webhook_delivery (
    id bigint generated always as identity primary key,
    subscription_id bigint not null references alerts.webhook_subscription (id) on delete cascade,
    alert_id bigint not null,
    alert_version integer not null,
    -- the alert.changed event of the spine, when the change came with one
    event_id bigint,
    -- the alert as JSON (the payload of alert.changed)
    payload jsonb not null,
    state text not null default 'pending' check (state in ('pending', 'delivered', 'dead')),
    -- attempts started (a claim counts as one, so a process dying mid-request still uses up an attempt)
    attempts integer not null default 0,
    -- when a pending delivery is due; while an attempt is in flight, the end of its lease
    next_attempt_at timestamptz not null default now(),
    last_error text,
    last_status integer,
    delivered_at timestamptz,
    created_at timestamptz not null default now(),
    constraint webhook_delivery_change_key unique (subscription_id, alert_id, alert_version)
);
create index webhook_delivery_due_idx on alerts.webhook_delivery (next_attempt_at) where state = 'pending';
create index webhook_delivery_state_idx on alerts.webhook_delivery (state, id desc);
