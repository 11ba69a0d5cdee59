-- Stations: code, kind, latest value of its quantity (rain for rain gauges, level for hydrometers), colour and
-- whether it is silent. The colour is the higher of the hydrometer threshold its latest level crosses and the
-- colour of its firing hydrological alert (rain gauges' thresholds are over windows: the evaluator's alert says).
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           core.tile_query_box($1::integer, $2::integer, $3::integer) as bbox
),
f as (
    select s.id, s.code, s.kind, l.value,
           extract(epoch from l.observed_at)::bigint as observed_at,
           (l.observed_at is null or l.observed_at < now() - make_interval(secs => 3 * s.interval_s)) as silent,
           greatest(
               case when s.kind = 'hydrometer' then
                   case when l.value >= (s.thresholds->>'red')::float8 then 3
                        when l.value >= (s.thresholds->>'orange')::float8 then 2
                        when l.value >= (s.thresholds->>'yellow')::float8 then 1
                        else 0 end
                    else 0 end,
               coalesce((select max(array_position(array['gialla', 'arancione', 'rossa'], a.level))
                         from alerts.alert a
                         where a.subject_kind = 'station' and a.subject = s.code and a.state = 'firing'
                           and a.category = 'hydro'), 0)
           ) as rank,
           st_asmvtgeom(st_transform(s.geom, 3857), t.env, 4096, 64, true) as geom
    from t
    join sensors.station s on s.geom && t.bbox
    left join sensors.latest l
        on l.station_id = s.id and l.quantity = case s.kind when 'hydrometer' then 2 else 1 end
)
select st_asmvt(m, 'stations', 4096, 'geom', 'id')
from (select id, code, kind, value, observed_at,
             (array['verde', 'gialla', 'arancione', 'rossa'])[rank + 1] as level, silent, geom
      from f where geom is not null) m
