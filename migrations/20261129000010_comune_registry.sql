-- ISTAT's list of comuni ("Elenco dei codici e delle denominazioni delle unità territoriali"): the names and codes
-- of every Italian comune, whether or not its boundary is loaded in core.comune (which keeps geometry). Kept by
-- geodata::comune::import_list (`vedetta import comuni Elenco-comuni-italiani.csv`); read by the geocoder (the
-- comune in labels, comuni named in a query) and for names, provinces and regions a boundary file lacks.
create table core.comune_registry (
    istat text primary key check (istat ~ '^[0-9]{6}$'),        -- Codice Comune formato alfanumerico: 001001
    belfiore text not null check (belfiore ~ '^[A-Z][0-9]{3}$'), -- Codice Catastale del comune: A074
    name text not null check (name <> ''),                      -- Denominazione (Italiana e straniera): Bolzano/Bozen
    name_it text not null check (name_it <> ''),                -- Denominazione in italiano: Bolzano
    name_other text check (name_other <> ''),                   -- Denominazione altra lingua: Bozen; null when none
    province_code text not null check (province_code ~ '^[0-9]{3}$'), -- Codice Provincia (Storico): 021
    province_name text not null,                                -- Denominazione dell'Unità territoriale sovracomunale
    province_acronym text not null check (province_acronym ~ '^[A-Z]{2}$'), -- Sigla automobilistica: BZ
    region_code text not null check (region_code ~ '^[0-9]{2}$'), -- Codice Regione: 04
    region_name text not null,                                  -- Denominazione Regione
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- Not unique: a comune that changes province keeps its cadastral code under a new ISTAT code, and a newer list
-- adds that row beside the old one (the list never removes anything).
create index comune_registry_belfiore_idx on core.comune_registry (belfiore);

-- Bumped by every comuni import (boundaries or list) that changed something; geocoders reload their comuni when it
-- moves, as they do their streets with toponymy.revision.
create table core.comune_revision (
    singleton boolean primary key default true check (singleton),
    revision bigint not null default 0,
    changed_at timestamptz not null default now(),
    created_at timestamptz not null default now()
);
insert into core.comune_revision (singleton) values (true);
