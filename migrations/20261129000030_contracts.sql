-- The contracts between schemas. A crate reads or writes only its own schema; what another domain needs from it
-- goes through one of these documented objects, owned by the schema they live in.

-- core (comuni, owned by geodata): the comune containing a WGS84 point. On a border shared by two comuni the
-- lower ISTAT code wins, always. NULL at sea or outside the loaded territory. Used by sensors for stations.
create or replace function core.comune_at(point geometry) returns text
    language sql stable parallel safe
as $$
    select c.istat from core.comune c where st_covers(c.geom, point) order by c.istat limit 1
$$;
comment on function core.comune_at(geometry) is
    'Contract of core (geodata): ISTAT code of the comune covering a point in EPSG:4326; the lower code on shared borders';

-- sensors (stations, owned by sensors): what other domains may read of a station (the OGC API collection, tiles).
create or replace view sensors.station_public as
    select s.code, s.name, s.kind, s.geom, s.comune_istat, s.river, s.basin, s.elevation_m, s.interval_s,
           s.updated_at
    from sensors.station s;
comment on view sensors.station_public is
    'Contract of sensors: the public fields of every station, for other domains (OGC API, tiles)';
