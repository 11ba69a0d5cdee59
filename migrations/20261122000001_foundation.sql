-- Foundation: PostGIS, one schema per domain, API tokens.
create extension if not exists postgis;

create schema if not exists core;
create schema if not exists sensors;
create schema if not exists alerts;
create schema if not exists reports;
create schema if not exists topo;
create schema if not exists toponymy;
create schema if not exists zoning;

comment on schema core is 'Vedetta: instance, users, tokens';
comment on schema sensors is 'Vedetta: stations, readings, dead letters';
comment on schema alerts is 'Vedetta: rules, alerts, notifications';
comment on schema reports is 'Vedetta: citizen reports and interventions';
comment on schema topo is 'Vedetta: DB Topografico objects and their history';
comment on schema toponymy is 'Vedetta: ANNCSU streets and house numbers';
comment on schema zoning is 'Vedetta: PUC/PRG zoning plans, versions and variants';

-- Bearer tokens for the HTTP API. Only the SHA-256 of a token is stored.
create table core.api_token (
    id bigint generated always as identity primary key,
    name text not null,
    role text not null check (role in ('admin', 'operator', 'councillor', 'citizen')),
    token_sha256 bytea not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_token_sha256_key unique (token_sha256)
);
