-- Toponymy: ANNCSU streets (odonimi) and house numbers (civici/accessi), kept by geodata::anncsu::import and
-- searched by geodata::geocoder. ANNCSU positions are ETRF2000 (EPSG:6706) longitude/latitude, stored as EPSG:4326:
-- the two agree within a metre, below ANNCSU's own accuracy.

-- A street as ANNCSU publishes it, by its national key PROGRESSIVO_NAZIONALE.
create table toponymy.street (
    progressivo_nazionale bigint primary key,
    belfiore text not null,                 -- CODICE_COMUNE (cadastral code, D969 Genova)
    istat text not null check (istat ~ '^[0-9]{6}$'), -- CODICE_ISTAT
    codice_comunale text not null default '',
    odonimo text not null,                  -- DUG and denomination as published: VIA GIUSEPPE GARIBALDI
    dug text not null,                      -- VIA (empty when the odonimo starts with no known DUG)
    denominazione text not null,            -- GIUSEPPE GARIBALDI
    localita text not null default '',      -- LOCALITA' (frazione)
    dizione_lingua1 text not null default '', -- name in a second official language (Bolzano, Aosta, Trieste…)
    dizione_lingua2 text not null default '',
    totale_accessi integer,                 -- TOTALE_ACCESSI of the STRADE file, when it was imported
    -- derived by the import: civici on the street, and a representative point, the located civico nearest the
    -- centroid of the street's located civici (null when none has a position)
    civici integer not null default 0,
    geom geometry(Point, 4326),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index street_istat_idx on toponymy.street (istat);
create index street_geom_idx on toponymy.street using gist (geom);

-- A house number (access), by its national key PROGRESSIVO_ACCESSO.
create table toponymy.civico (
    progressivo_accesso bigint primary key,
    progressivo_nazionale bigint not null references toponymy.street (progressivo_nazionale) on delete restrict,
    codice_comunale_accesso text not null default '',
    numero integer,                         -- CIVICO; null for an access with no number (SNC) or a kilometric one
    esponente text not null default '',     -- ESPONENTE, upper case: A, B, BIS, 2
    specificita text not null default '',   -- SPECIFICITA: ROSSO (Genova's red numbers), NERO, or empty
    metrico text,                           -- METRICO as published
    progressivo_snc bigint,                 -- PROGRESSIVO_SNC (senza numero civico)
    quota double precision,
    metodo smallint,
    geom geometry(Point, 4326),             -- null when ANNCSU gives no coordinates
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- forward geocoding: the civici with a given number on candidate streets
create index civico_street_numero_idx on toponymy.civico (progressivo_nazionale, numero);
-- reverse geocoding: nearest civico in metres
create index civico_geog_idx on toponymy.civico using gist ((geom::geography)) where geom is not null;

-- Bumped by every import that changed something; geocoders reload their street index when it moves.
create table toponymy.revision (
    singleton boolean primary key default true check (singleton),
    revision bigint not null default 0,
    changed_at timestamptz not null default now(),
    created_at timestamptz not null default now()
);
insert into toponymy.revision (singleton) values (true);

-- One row per import, with what it did.
create table toponymy.import_run (
    id bigint generated always as identity primary key,
    indirizzi text not null,
    strade text,
    comuni text[] not null,
    streets_added bigint not null,
    streets_changed bigint not null,
    streets_removed bigint not null,
    civici_added bigint not null,
    civici_changed bigint not null,
    civici_removed bigint not null,
    without_coordinates bigint not null,
    rejected bigint not null,
    started_at timestamptz not null,
    finished_at timestamptz not null default now(),
    created_at timestamptz not null default now()
);
