-- Sensor network: stations, readings (partitioned by month), latest values, dead letters.

create table sensors.station (
    id bigint generated always as identity primary key,
    code text not null,
    name text not null,
    kind text not null check (kind in ('rain_gauge', 'hydrometer')),
    geom geometry(Point, 4326) not null,
    elevation_m double precision,
    comune_istat text,
    river text,
    basin text,
    range_min double precision,
    range_max double precision,
    interval_s integer not null default 300 check (interval_s > 0),
    -- hydrometers: {"yellow":2.5,"orange":3.2,"red":4.0,"clear":{...}}; rain gauges: {"1h":{"yellow":..},...}
    thresholds jsonb not null default '{}',
    -- quality-control parameters overriding the defaults: max_rain_5min_mm, max_step_m_per_min, flat_line_s
    qc jsonb not null default '{}',
    properties jsonb not null default '{}',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint station_code_key unique (code),
    constraint station_range_check check (range_min is null or range_max is null or range_min < range_max)
);
create index station_geom_idx on sensors.station using gist (geom);

-- quantity: 1 = rain (mm since the previous report), 2 = level (m above the hydrometric zero).
-- qc: bit flags (see sensors::qc::Flags). One row per (station, quantity, observed_at): storage is idempotent.
create table sensors.reading (
    station_id bigint not null references sensors.station (id) on delete cascade,
    quantity smallint not null check (quantity in (1, 2)),
    observed_at timestamptz not null,
    value double precision not null,
    qc integer not null default 0,
    received_at timestamptz not null,
    primary key (station_id, quantity, observed_at)
) partition by range (observed_at);

comment on table sensors.reading is 'Readings, partitioned by month; partitions are created ahead by sensors.ensure_reading_partition';

-- Creates the monthly partition holding `at` unless it exists. Returns its name.
create function sensors.ensure_reading_partition(at timestamptz) returns text
language plpgsql as $$
declare
    month_start timestamptz := date_trunc('month', at at time zone 'UTC') at time zone 'UTC';
    month_end timestamptz := (date_trunc('month', at at time zone 'UTC') + interval '1 month') at time zone 'UTC';
    part text := 'reading_' || to_char(month_start at time zone 'UTC', 'YYYYMM');
begin
    if to_regclass('sensors.' || part) is null then
        begin
            execute format('create table sensors.%I partition of sensors.reading for values from (%L) to (%L)',
                           part, month_start, month_end);
        exception when duplicate_table then
            null; -- created concurrently
        end;
    end if;
    return part;
end
$$;

-- The latest reading of each station and quantity, kept by the writer in the same transaction as the readings.
create table sensors.latest (
    station_id bigint not null references sensors.station (id) on delete cascade,
    quantity smallint not null check (quantity in (1, 2)),
    observed_at timestamptz not null,
    value double precision not null,
    qc integer not null default 0,
    -- start of the run of identical values that ends with this reading (flat-line detection)
    run_since timestamptz not null,
    created_at timestamptz not null default now(),
    primary key (station_id, quantity)
);

-- What ingest could not store, and why. Nothing is dropped silently.
create table sensors.dead_letter (
    id bigint generated always as identity primary key,
    topic text not null,
    received_at timestamptz not null,
    kind text not null,
    reason text not null,
    payload_head text not null,
    payload_size integer not null,
    created_at timestamptz not null default now()
);
create index dead_letter_received_idx on sensors.dead_letter (received_at desc);
