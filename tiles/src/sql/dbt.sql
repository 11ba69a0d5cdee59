-- DB Topografico objects in force (valid_to is null). Each class from its own zoom: large areas (water, green,
-- woods) and toponyms from 12, roads from 13, buildings from 14, every other class from 15 (from 15 on every class
-- shows: no test per object). Below zoom 16 geometries of more than 24 vertices are simplified to about half a
-- screen pixel (a building's few vertices are left to ST_AsMVTGeom's own snapping). At most 50,000 objects a tile.
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           core.tile_query_box($1::integer, $2::integer, $3::integer) as bbox,
           core.tile_tolerance($1::integer, 16) as tolerance
)
select st_asmvt(m, 'dbt', 4096, 'geom', 'id')
from (
    select o.version as id, o.class, o.code,
           st_asmvtgeom(case when t.tolerance > 0 and st_npoints(o.geom) > 24
                             then st_simplify(st_transform(o.geom, 3857), t.tolerance, true)
                             else st_transform(o.geom, 3857) end,
                        t.env, 4096, 64, true) as geom
    from t
    join topo.object o on o.geom && t.bbox
    where o.valid_to is null
      and ($1 >= 15 or $1 >= case
                    when o.class in ('AB_CDA', 'SPI_AC', 'AR_VRD', 'BOSCO', 'AR_BOS', 'SP_ACQ', 'GHI_NV') then 12
                    when o.class like 'TP\_%' then 12
                    when o.class in ('AR_STR', 'EL_STR', 'TR_STR', 'AR_FER', 'TR_FER', 'EL_IDR', 'CS_MAR') then 13
                    when o.class in ('EDIFC', 'EDI_MIN', 'UN_VOL', 'MAN_TR') then 14
                    else 15
                end)
    limit 50000
) m
where m.geom is not null
