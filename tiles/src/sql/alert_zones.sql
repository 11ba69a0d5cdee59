-- Alert zones with the colour of their most severe firing alert (the alerts' contract view alerts.zone_status).
-- MVT ids are numbers: a zone's is a hash of its code; clients name zones by the `code` attribute.
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           core.tile_query_box($1::integer, $2::integer, $3::integer) as bbox,
           core.tile_tolerance($1::integer, 14) as tolerance
)
select st_asmvt(m, 'alert_zones', 4096, 'geom', 'id')
from (
    select abs(hashtext(z.code)::bigint) as id, z.code, z.name, z.level,
           st_asmvtgeom(st_simplify(st_transform(st_clipbybox2d(z.geom, t.bbox::box2d), 3857), t.tolerance, true),
                        t.env, 4096, 64, true) as geom
    from t
    join alerts.zone_status z on z.geom && t.bbox
) m
where m.geom is not null
