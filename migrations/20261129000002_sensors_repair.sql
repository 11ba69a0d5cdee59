-- Repairs what hostile input could leave behind before ingest and the station API checked it (issue #7).

-- 1. Readings outside the span ingest now accepts (before 1900, or more than a day ahead: a device clock set to
--    9999-12-31) become dead letters, as such a message would be today, and leave the readings. Both conditions
--    prune to the partitions concerned (readings a day ahead of their reception but now in the past are left).
insert into sensors.dead_letter (topic, received_at, kind, reason, payload_head, payload_size)
select convert_to('vedetta/v1/sensors/' || s.code || '/' || case r.quantity when 1 then 'rain' else 'level' end,
                  'UTF8'),
       r.received_at,
       'time_out_of_range',
       't: ' || to_char(r.observed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           || case when r.observed_at < timestamptz '1900-01-01 00:00:00+00' then ' is before 1900'
                   else ' is more than a day after reception' end
           || ' (moved from the readings by migration 20261129000002)',
       convert_to(jsonb_build_object('t', r.observed_at, 'v', r.value)::text, 'UTF8'),
       octet_length(jsonb_build_object('t', r.observed_at, 'v', r.value)::text)
from sensors.reading r
join sensors.station s on s.id = r.station_id
where r.observed_at < timestamptz '1900-01-01 00:00:00+00' or r.observed_at > now() + interval '1 day';

delete from sensors.reading r
where r.observed_at < timestamptz '1900-01-01 00:00:00+00' or r.observed_at > now() + interval '1 day';

-- 2. The latest reading of a series is never one flagged `future` (qc bit 16) nor one that left the readings: such
--    series take their newest remaining reading that is not in the future.
create temporary table repaired_series on commit drop as
    select l.station_id, l.quantity from sensors.latest l
    where (l.qc & 16) <> 0
       or not exists (select 1 from sensors.reading r
                      where r.station_id = l.station_id and r.quantity = l.quantity
                        and r.observed_at = l.observed_at);

delete from sensors.latest l using repaired_series b
where l.station_id = b.station_id and l.quantity = b.quantity;

insert into sensors.latest (station_id, quantity, observed_at, value, qc, run_since)
select b.station_id, b.quantity, r.observed_at, r.value, r.qc, r.observed_at
from repaired_series b
cross join lateral (
    select r.observed_at, r.value, r.qc from sensors.reading r
    where r.station_id = b.station_id and r.quantity = b.quantity and (r.qc & 16) = 0
    order by r.observed_at desc limit 1
) r;

-- 3. Station JSON holding numbers near the limit of a double (1.7976931348623157e308 as a threshold) cannot be read
--    back; such thresholds, QC parameters or properties are kept as text in properties and reset.
update sensors.station
set properties = jsonb_build_object('invalid_properties', properties::text)
where jsonb_path_exists(properties, 'strict $.** ? (@.type() == "number" && @.abs() > 1e300)');

update sensors.station
set properties = properties || jsonb_build_object('invalid_thresholds', thresholds::text),
    thresholds = '{}'
where jsonb_path_exists(thresholds, 'strict $.** ? (@.type() == "number" && @.abs() > 1e300)');

update sensors.station
set properties = properties || jsonb_build_object('invalid_qc', qc::text),
    qc = '{}'
where jsonb_path_exists(qc, 'strict $.** ? (@.type() == "number" && @.abs() > 1e300)');
