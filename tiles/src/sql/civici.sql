-- House numbers with their label as written (12, 12A, Genova's red 12r, snc) and street; at most 20,000 a tile.
with t as (
    select st_tileenvelope($1::integer, $2::integer, $3::integer) as env,
           core.tile_query_box($1::integer, $2::integer, $3::integer) as bbox
)
select st_asmvt(m, 'civici', 4096, 'geom', 'id')
from (
    select c.progressivo_accesso as id,
           coalesce(c.numero::text, 'snc') || c.esponente
               || case when c.specificita = 'ROSSO' then 'r' else '' end as label,
           c.numero, s.odonimo as street,
           st_asmvtgeom(st_transform(c.geom, 3857), t.env, 4096, 64, true) as geom
    from t
    join toponymy.civico c on c.geom && t.bbox
    join toponymy.street s on s.progressivo_nazionale = c.progressivo_nazionale
    limit 20000
) m
where m.geom is not null
