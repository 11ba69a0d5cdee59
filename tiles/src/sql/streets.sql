-- Street names at their label point (the house number nearest the middle of the street); at most 20,000 a tile.
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           core.tile_query_box($1::integer, $2::integer, $3::integer) as bbox
)
select st_asmvt(m, 'streets', 4096, 'geom', 'id')
from (
    select s.progressivo_nazionale as id, s.odonimo as name, s.istat as comune, s.civici,
           st_asmvtgeom(st_transform(s.geom, 3857), t.env, 4096, 64, true) as geom
    from t
    join toponymy.street s on s.geom && t.bbox
    limit 20000
) m
where m.geom is not null
