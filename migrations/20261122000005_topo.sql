-- DB Topografico: a registry of territorial objects with stable identity and history.
--
-- topo.object holds every version of every object: (class, key) is the natural key (class code + the source `ID`),
-- [valid_from, valid_to) the interval in which that version was the object's state; the current version has
-- valid_to null. It is partitioned by class: a new class is loaded with COPY (several streams) into a table of its
-- own, indexed once, then attached; until then no query sees it.

-- One import of one class from one file.
create table topo.release (
    id bigint generated always as identity primary key,
    class text not null,
    label text not null,
    source_file text not null,
    crs text not null,
    comune_istat text,
    valid_from timestamptz not null,
    features bigint not null default 0,
    added bigint not null default 0,
    changed bigint not null default 0,
    removed bigint not null default 0,
    unchanged bigint not null default 0,
    repaired bigint not null default 0,
    rejected bigint not null default 0,
    created_at timestamptz not null default now()
);
create index release_class_idx on topo.release (class, valid_from);

-- The classes loaded so far and the partition that holds each.
create table topo.class (
    class text primary key,
    partition_name text not null unique,
    created_at timestamptz not null default now()
);

create sequence topo.object_version_seq;

create table topo.object (
    class text not null,
    key text not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    version bigint not null default nextval('topo.object_version_seq'),
    release_id bigint not null,
    -- the class code of the object: its CODICE attribute when it has one, else the class
    code text not null,
    comune_istat text,
    -- position of the feature in its source file (0-based)
    source_index bigint not null,
    attrs jsonb not null,
    geom geometry(Geometry, 4326) not null,
    -- xxh3 of the canonical attributes and of the coordinates (1e-8°): equal digests, same object state
    digest bigint not null,
    repaired boolean not null default false,
    created_at timestamptz not null default now(),
    constraint object_interval_check check (valid_to is null or valid_to > valid_from),
    primary key (class, key, valid_from)
) partition by list (class);

comment on table topo.object is 'DB Topografico objects, one row per version; the current version has valid_to null';

create unique index object_current_key on topo.object (class, key) where valid_to is null;
create index object_geom_idx on topo.object using gist (geom);

-- Creates the (unattached, unindexed) table that will hold `p_class`, named `p_table`. The check constraint lets
-- `attach partition` skip its validation scan.
create function topo.create_class_table(p_class text, p_table text) returns void
language plpgsql as $$
begin
    execute format(
        'create table topo.%I (like topo.object including defaults including constraints, '
        'constraint %I check (class = %L))',
        p_table, p_table || '_class_check', p_class);
end
$$;

-- Attaches the loaded and indexed table of `p_class` (its unique index `<table>_pkey` on (class, key, valid_from)
-- becomes the primary key) to topo.object, whose partitioned indexes adopt the table's matching indexes.
create function topo.attach_class_table(p_class text, p_table text) returns void
language plpgsql as $$
begin
    execute format('alter table topo.%I add constraint %I primary key using index %I',
                   p_table, p_table || '_pkey', p_table || '_pkey');
    execute format('alter table topo.object attach partition topo.%I for values in (%L)', p_table, p_class);
    insert into topo.class (class, partition_name) values (p_class, p_table);
end
$$;
