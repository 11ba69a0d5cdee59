-- sensors → alerts contracts for the evaluator: readings of stations in time ranges, and the station list with
-- the time of its latest reading (silent stations).

create or replace function sensors.readings_between(stations bigint[], froms timestamptz[], tos timestamptz[])
    returns table (station_id bigint, observed_at timestamptz, value double precision, qc integer)
    language sql stable parallel safe
as $$
    select r.station_id, r.observed_at, r.value, r.qc
    from unnest(stations, froms, tos) as q(station_id, t0, t1)
    join sensors.reading r on r.station_id = q.station_id and r.observed_at > q.t0 and r.observed_at <= q.t1
    order by r.station_id, r.observed_at
$$;
comment on function sensors.readings_between(bigint[], timestamptz[], timestamptz[]) is
    'Contract of sensors: readings (station_id, observed_at, value, qc) of each station in (from, to], in time order';

create or replace view sensors.station_alerting as
    select s.id, s.code, s.name, s.kind, s.geom, s.comune_istat, s.interval_s, s.thresholds, s.river, s.basin,
           (select max(l.observed_at) from sensors.latest l where l.station_id = s.id) as last_observed_at
    from sensors.station s;
comment on view sensors.station_alerting is
    'Contract of sensors: station fields the alert evaluator reads (thresholds, interval, location, latest reading)';

-- The last change of an alert and the colour before it, as announced.
alter table alerts.alert add column previous_level text check (previous_level in ('gialla', 'arancione', 'rossa'));
alter table alerts.alert add column last_change text not null default 'opened';
