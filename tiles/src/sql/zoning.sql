-- Zoning in force on $4->>'date' (default today): per plan, the latest full version approved by that date,
-- overlaid by its later variants approved by then, each over the earlier ones (as geodata::zoning reads it):
-- a zone shows only where no later variant's perimeter covers it.
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           core.tile_query_box($1::integer, $2::integer, $3::integer) as bbox,
           coalesce(($4->>'date')::date, current_date) as day
),
v as (
    select p.id, p.plan, p.version, p.approved, p.variant_of is null as full_plan, p.perimeter
    from t join zoning.plan_version p on p.approved <= t.day
),
base as (select distinct on (plan) id, plan, approved from v where full_plan order by plan, approved desc, id desc),
eff as (
    select v.* from v join base b on b.plan = v.plan
    where v.id = b.id or (not v.full_plan and (v.approved, v.id) > (b.approved, b.id))
),
e as (
    select e.id, e.plan, e.version,
           (select st_union(l.perimeter) from eff l, t
            where l.plan = e.plan and not l.full_plan and (l.approved, l.id) > (e.approved, e.id)
              and l.perimeter && t.bbox) as later
    from eff e
)
select st_asmvt(m, 'zoning', 4096, 'geom', 'id')
from (
    select z.id, z.code, z.dm1444_class as class, z.nta_article as nta, e.plan, e.version,
           st_asmvtgeom(st_transform(case when e.later is null then st_clipbybox2d(z.geom, t.bbox::box2d)
                                          else st_difference(st_clipbybox2d(z.geom, t.bbox::box2d), e.later) end,
                                     3857),
                        t.env, 4096, 64, true) as geom
    from t
    join zoning.zone z on z.geom && t.bbox
    join e on e.id = z.version_id
) m
where m.geom is not null and not st_isempty(m.geom)
