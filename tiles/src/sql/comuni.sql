-- Municipal boundaries, simplified to about half a screen pixel below zoom 14.
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           core.tile_query_box($1::integer, $2::integer, $3::integer) as bbox,
           core.tile_tolerance($1::integer, 14) as tolerance
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
