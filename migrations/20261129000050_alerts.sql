-- Alerting: zones, rule definitions, alerts with their history, silences, the operators' log, evaluator state.

-- Alert zones (zone di allerta): polygons with a code, or the union of a list of comuni.
create table alerts.zone (
    code text primary key check (code ~ '^[A-Za-z0-9_.-]{1,32}$'),
    name text not null,
    geom geometry(MultiPolygon, 4326) not null,
    -- ISTAT codes of the comuni in the zone (given, or assigned by location at import)
    comuni text[] not null default '{}',
    source text not null check (source in ('geojson', 'comuni', 'demo')),
    updated_at timestamptz not null default now()
);
create index zone_geom_idx on alerts.zone using gist (geom);

-- Rule definitions added through the API or loaded from the configuration file (`source`).
create table alerts.rule (
    code text primary key,
    definition jsonb not null,
    source text not null check (source in ('config', 'api')),
    updated_at timestamptz not null default now(),
    updated_by text
);

-- One row per (rule, subject) episode. An escalation or de-escalation updates the same row; `version` counts its
-- changes (it numbers the CAP messages and the notifications of the alert).
create table alerts.alert (
    id bigint generated always as identity primary key,
    rule text not null,
    subject_kind text not null check (subject_kind in ('station', 'zone')),
    subject text not null,
    zone text,
    category text not null check (category in ('hydro', 'technical', 'manual')),
    hazard text not null,
    state text not null check (state in ('pending', 'firing', 'resolved')),
    level text not null check (level in ('gialla', 'arancione', 'rossa')),
    peak_level text not null check (peak_level in ('gialla', 'arancione', 'rossa')),
    value double precision,
    unit text,
    message text,
    started_at timestamptz not null,
    fired_at timestamptz,
    resolved_at timestamptz,
    updated_at timestamptz not null default now(),
    version integer not null default 1,
    acknowledged_at timestamptz,
    acknowledged_by text,
    ack_note text,
    created_by text
);
create unique index alert_open_key on alerts.alert (rule, subject_kind, subject) where state <> 'resolved';
create index alert_state_idx on alerts.alert (state, updated_at desc);
create index alert_zone_idx on alerts.alert (zone, updated_at desc);

-- Every change of an alert, in order.
create table alerts.alert_history (
    id bigint generated always as identity primary key,
    alert_id bigint not null references alerts.alert (id) on delete cascade,
    version integer not null,
    at timestamptz not null,
    state text not null,
    level text not null,
    value double precision,
    reason text not null,
    actor text,
    unique (alert_id, version)
);

-- Silences: no notification for alerts of a station, zone or rule until `until` (bounded by the API).
create table alerts.silence (
    id bigint generated always as identity primary key,
    scope_kind text not null check (scope_kind in ('station', 'zone', 'rule')),
    scope text not null,
    until timestamptz not null,
    note text,
    created_by text not null,
    created_at timestamptz not null default now(),
    lifted_at timestamptz,
    lifted_by text
);
create index silence_scope_idx on alerts.silence (scope_kind, scope, until);

-- What operators did (acknowledge, silence, manual alerts, rule changes): append-only.
create table alerts.action_log (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor text not null,
    action text not null,
    alert_id bigint,
    details jsonb not null default '{}'
);

-- The evaluator's memory per (rule, subject): the ladder state (pending since, current level) and how far in
-- observation time it has evaluated, so that a restart or a takeover neither repeats nor skips a decision.
create table alerts.evaluation_state (
    rule text not null,
    subject text not null,
    state jsonb not null,
    evaluated_until timestamptz,
    updated_at timestamptz not null default now(),
    primary key (rule, subject)
);

-- Durable cursors of the spine's consumers that must not repeat themselves (MQTT publisher, webhooks, evaluator).
create table alerts.consumer_cursor (
    consumer text primary key,
    last_event_id bigint not null,
    updated_at timestamptz not null default now()
);

-- sensors → alerts contract: what the evaluator reads of a station.
create or replace view sensors.station_alerting as
    select s.id, s.code, s.name, s.kind, s.geom, s.comune_istat, s.interval_s, s.thresholds, s.river, s.basin
    from sensors.station s;
comment on view sensors.station_alerting is
    'Contract of sensors: station fields the alert evaluator reads (thresholds, interval, location)';

-- alerts → others contract: the current colour of each zone (tiles, web map).
create or replace view alerts.zone_status as
    select z.code, z.name, z.geom,
           coalesce((select a.level from alerts.alert a
                     where a.zone = z.code and a.state = 'firing' and a.category <> 'technical'
                     order by array_position(array['gialla', 'arancione', 'rossa'], a.level) desc limit 1),
                    'verde') as level
    from alerts.zone z;
comment on view alerts.zone_status is 'Contract of alerts: each zone with the colour of its most severe firing alert';
