-- Accounts, roles per comune, web sessions; API tokens may belong to an account.
--
-- Roles: citizen, councillor (consigliere di quartiere), operator (of one or more comuni), civil_protection
-- (metropolitan: every comune), planner (territorial data), admin. A grant gives one role, on one comune or, when
-- `comune` is null, on every comune (admin, civil_protection, planner; a citizen files anywhere).
-- What each role may do on a report of a comune is decided in one place: reports::access.

create table core.account (
    id bigint generated always as identity primary key,
    -- the login name, compared case-insensitively
    username text not null check (username ~ '^[a-z0-9][a-z0-9._@-]{1,62}$'),
    display_name text not null check (length(btrim(display_name)) between 1 and 200),
    email text check (email is null or email ~ '^[^@\s]+@[^@\s]+$'),
    -- argon2id PHC string; null: the account cannot log in with a password (tokens or an identity provider only)
    password_hash text,
    -- for accounts that come from an identity provider (OpenID Connect: SPID/CIE through a broker): issuer + subject
    external_issuer text,
    external_subject text,
    created_at timestamptz not null default now(),
    disabled_at timestamptz,
    constraint account_username_key unique (username),
    constraint account_external_key unique (external_issuer, external_subject)
);

create table core.account_grant (
    account_id bigint not null references core.account (id) on delete cascade,
    role text not null check (role in ('citizen', 'councillor', 'operator', 'civil_protection', 'planner', 'admin')),
    -- ISTAT code of the comune; null = every comune. An operator and a councillor always have one.
    comune text check (comune is null or comune ~ '^[0-9]{6}$'),
    check (comune is not null or role not in ('operator', 'councillor'))
);
create unique index account_grant_key on core.account_grant (account_id, role, coalesce(comune, ''));

-- Web sessions: the cookie carries a random id, the table keeps its SHA-256 and the CSRF token the web app sends
-- back in the X-CSRF-Token header on every unsafe request.
create table core.session (
    id_sha256 bytea primary key,
    account_id bigint not null references core.account (id) on delete cascade,
    csrf_token text not null,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create index session_account_idx on core.session (account_id);
create index session_expires_idx on core.session (expires_at);

-- Tokens may now belong to an account (their powers are then the account's grants) and carry the new roles.
alter table core.api_token add column account_id bigint references core.account (id) on delete cascade;
alter table core.api_token drop constraint if exists api_token_role_check;
alter table core.api_token add constraint api_token_role_check
    check (role in ('citizen', 'councillor', 'operator', 'civil_protection', 'planner', 'admin'));
-- A token without an account may be limited to comuni (an integration of one comune's maintenance system).
alter table core.api_token add column comuni text[] not null default '{}';

-- Rate limits shared by every Vedetta process: one row per counted action (a report filed, a login attempt),
-- keyed by what is limited (`ip:1.2.3.4`, `account:12`), pruned after the longest window.
create table core.rate_event (
    key text not null,
    action text not null,
    at timestamptz not null default now()
);
create index rate_event_idx on core.rate_event (action, key, at);
create index rate_event_at_idx on core.rate_event (at);
