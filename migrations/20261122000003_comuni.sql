-- Comuni: the unit of tenancy. Every territorial object, station and report knows its comune.
create table core.comune (
    istat text primary key check (istat ~ '^[0-9]{6}$'),
    belfiore text not null,
    name text not null,
    province_code text,
    province_name text,
    province_acronym text,
    region_code text,
    region_name text,
    geom geometry(MultiPolygon, 4326) not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint comune_belfiore_key unique (belfiore)
);
create index comune_geom_idx on core.comune using gist (geom);
