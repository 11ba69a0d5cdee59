-- Municipal boundaries, simplified to about half a screen pixel below zoom 14.
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           -- the envelope with the tiles' buffer, in WGS84; kept within ±180° (beyond, longitudes would wrap)
           st_transform(st_clipbybox2d(st_tileenvelope($1::integer, $2::integer, $3::integer, margin => 0.015625),
                                       st_makeenvelope(-20037508.34, -20037508.34, 20037508.34, 20037508.34)),
                        4326) as bbox,
           case when $1 < 14 then 40075016.68557849 / power(2, $1::float8) / 2048 else 0 end as tolerance
)
select st_asmvt(m, 'comuni', 4096, 'geom', 'id')
from (
    select c.istat::bigint as id, c.istat, c.name,
           st_asmvtgeom(st_simplify(st_transform(st_clipbybox2d(c.geom, t.bbox::box2d), 3857), t.tolerance, true),
                        t.env, 4096, 64, true) as geom
    from t
    join core.comune c on c.geom && t.bbox
) m
where m.geom is not null
