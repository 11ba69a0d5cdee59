-- Zoning plans (PUC/PRG), their versions and variants. A full version covers the whole plan; a variant replaces
-- the zones inside its perimeter from its approval date. Earlier versions stay queryable.
create table zoning.plan_version (
    id bigint generated always as identity primary key,
    plan text not null,
    version text not null,
    approved date not null,
    variant_of bigint references zoning.plan_version (id),
    -- for a variant, the area it replaces (the union of its zones); for a full version, its extent
    perimeter geometry(MultiPolygon, 4326) not null,
    source_file text,
    created_at timestamptz not null default now(),
    constraint plan_version_key unique (plan, version)
);
create index plan_version_perimeter_idx on zoning.plan_version using gist (perimeter);

create table zoning.zone (
    id bigint generated always as identity primary key,
    version_id bigint not null references zoning.plan_version (id) on delete cascade,
    code text not null,
    -- DM 1444/1968 homogeneous territorial zone, when known
    dm1444_class text check (dm1444_class in ('A', 'B', 'C', 'D', 'E', 'F')),
    nta_article text,
    attributes jsonb not null default '{}',
    geom geometry(MultiPolygon, 4326) not null,
    created_at timestamptz not null default now()
);
create index zone_geom_idx on zoning.zone using gist (geom);
create index zone_version_idx on zoning.zone (version_id);
