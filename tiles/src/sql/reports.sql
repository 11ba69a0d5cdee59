-- Public citizen reports: approved and not hidden, and of them only category, status, supporters and age.
-- Never a reporter column. The newest 5,000 of a tile.
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           core.tile_query_box($1::integer, $2::integer, $3::integer) as bbox
)
select st_asmvt(m, 'reports', 4096, 'geom', 'id')
from (
    select r.id, r.category, r.status, r.supporters,
           floor(extract(epoch from now() - r.created_at) / 86400)::integer as age_days,
           st_asmvtgeom(st_transform(r.geom, 3857), t.env, 4096, 64, true) as geom
    from t
    join reports.report r on r.geom && t.bbox
    where r.approved and not r.hidden
    order by r.created_at desc
    limit 5000
) m
where m.geom is not null
