-- Citizen reports (segnalazioni): categories per comune, reports, photos, workflow history, interventions,
-- moderation, supporters, notifications and per-comune webhooks. Reporter data (name, email, phone, account) lives
-- only in reports.report's reporter_* columns and never leaves through a public API, tile, feed or export.

-- Categories: `comune` null = the default catalogue every comune has; a comune's own row with the same code
-- overrides it (name, attributes, active = false hides it there).
create table reports.category (
    id bigint generated always as identity primary key,
    comune text check (comune is null or comune ~ '^[0-9]{6}$'),
    -- the Open311 service_code
    code text not null check (code ~ '^[a-z0-9_]{1,50}$'),
    name_it text not null,
    name_en text not null,
    description text not null default '',
    -- Open311 `group`
    grp text not null default '',
    keywords text[] not null default '{}',
    -- Open311 attributes: [{"code","datatype","required","description","order","values":[{"key","name"}]}]
    attributes jsonb not null default '[]' check (jsonb_typeof(attributes) = 'array'),
    active boolean not null default true,
    created_at timestamptz not null default now()
);
create unique index category_key on reports.category (coalesce(comune, ''), code);

insert into reports.category (comune, code, name_it, name_en, grp, keywords) values
    (null, 'buca_stradale', 'Buca stradale', 'Pothole', 'strade', '{buca,asfalto,strada}'),
    (null, 'allagamento', 'Allagamento', 'Flooding', 'idraulica', '{allagamento,acqua,alluvione}'),
    (null, 'frana', 'Frana / smottamento', 'Landslide', 'idraulica', '{frana,smottamento}'),
    (null, 'caditoia_ostruita', 'Caditoia ostruita', 'Blocked drain', 'idraulica', '{caditoia,tombino}'),
    (null, 'illuminazione', 'Illuminazione pubblica', 'Street lighting', 'impianti', '{lampione,luce}'),
    (null, 'rifiuti', 'Rifiuti', 'Waste', 'igiene', '{rifiuti,spazzatura}'),
    (null, 'alberi_verde', 'Alberi e verde', 'Trees and green areas', 'verde', '{albero,verde,ramo}'),
    (null, 'segnaletica', 'Segnaletica', 'Road signs', 'strade', '{cartello,segnale}'),
    (null, 'altro', 'Altro', 'Other', 'altro', '{}');

-- Per comune: moderation mode and who is told.
create table reports.comune_settings (
    comune text primary key check (comune ~ '^[0-9]{6}$'),
    -- pre: a new report is hidden until an operator approves it; post: public at once, hidden afterwards if needed
    moderation text not null default 'post' check (moderation in ('pre', 'post')),
    updated_at timestamptz not null default now()
);

create table reports.report (
    id bigint generated always as identity primary key,
    comune text not null check (comune ~ '^[0-9]{6}$'),
    category text not null,
    description text not null check (length(description) <= 4000),
    geom geometry(Point, 4326) not null,
    -- reverse geocoded (ANNCSU): "Via Roma 12, Genova", or the street alone, or null
    address text,
    status text not null default 'new' check (status in
        ('new', 'acknowledged', 'in_progress', 'resolved', 'closed', 'rejected', 'duplicate', 'reopened')),
    reporter_type text not null default 'citizen' check (reporter_type in
        ('citizen', 'councillor', 'volunteer', 'municipal_police', 'office', 'other')),
    people_at_risk boolean not null default false,
    -- 1 (highest) … 4; people at risk → 1
    priority smallint not null default 3 check (priority between 1 and 4),
    -- private: never in a public output
    reporter_name text,
    reporter_email text,
    reporter_phone text,
    reporter_account_id bigint references core.account (id) on delete set null,
    -- name hidden even from councillors (operators of the comune still see contact data to call back)
    anonymous boolean not null default false,
    -- the follow-up link without an account carries this token; only its SHA-256 is kept
    tracking_sha256 bytea not null,
    -- Open311 and REST extras
    attributes jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object'),
    media_url text,
    source text not null default 'api' check (source in ('api', 'web', 'open311', 'import')),
    -- moderation: pre-moderated reports wait with approved = false; hidden reports are out of every public output
    approved boolean not null default true,
    hidden boolean not null default false,
    duplicate_of bigint references reports.report (id) on delete set null,
    supporters integer not null default 0,
    -- status_notes of Open311: the last public note
    public_note text,
    reject_reason text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    acknowledged_at timestamptz,
    resolved_at timestamptz,
    closed_at timestamptz,
    anonymized_at timestamptz
);
create index report_geom_idx on reports.report using gist (geom);
create index report_comune_created_idx on reports.report (comune, created_at);
create index report_comune_category_status_idx on reports.report (comune, category, status);
create index report_open_geom_idx on reports.report using gist (geom)
    where status in ('new', 'acknowledged', 'in_progress', 'reopened') and not hidden;
create index report_updated_idx on reports.report (updated_at);
create unique index report_tracking_idx on reports.report (tracking_sha256);

-- Photos: files under <data dir>/photos/<sha256 first 2>/<sha256>.<ext>, re-encoded without metadata.
create table reports.photo (
    id bigint generated always as identity primary key,
    report_id bigint not null references reports.report (id) on delete cascade,
    position smallint not null check (position between 1 and 5),
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text not null check (content_type in ('image/jpeg', 'image/png', 'image/webp')),
    width integer not null,
    height integer not null,
    bytes integer not null,
    thumb_sha256 text not null check (thumb_sha256 ~ '^[0-9a-f]{64}$'),
    removed_at timestamptz,
    created_at timestamptz not null default now(),
    unique (report_id, position)
);
create index photo_sha_idx on reports.photo (sha256);

-- Every workflow step: who, when, public and private notes. The first row (from_status null) is the filing.
create table reports.transition (
    id bigint generated always as identity primary key,
    report_id bigint not null references reports.report (id) on delete cascade,
    from_status text,
    to_status text not null,
    actor_account_id bigint references core.account (id) on delete set null,
    -- display name of the actor ("Operatore Comune di Genova"); null for the reporter
    actor_name text,
    public_note text,
    private_note text,
    at timestamptz not null default now()
);
create index transition_report_idx on reports.transition (report_id, at);

create table reports.intervention (
    id bigint generated always as identity primary key,
    report_id bigint not null references reports.report (id) on delete cascade,
    team text not null check (length(btrim(team)) between 1 and 200),
    scheduled_for date,
    done_at timestamptz,
    outcome text check (outcome is null or length(outcome) <= 4000),
    created_by bigint references core.account (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index intervention_report_idx on reports.intervention (report_id);

-- Moves between comuni or bodies, approvals, hiding, redactions, photo removals: all logged.
create table reports.moderation_log (
    id bigint generated always as identity primary key,
    report_id bigint not null references reports.report (id) on delete cascade,
    action text not null check (action in ('approve', 'hide', 'unhide', 'redact', 'remove_photo', 'move', 'mark_duplicate')),
    actor_account_id bigint references core.account (id) on delete set null,
    actor_name text,
    detail jsonb not null default '{}',
    at timestamptz not null default now()
);
create index moderation_log_report_idx on reports.moderation_log (report_id, at);

-- "Me too": one support per supporter (an account, or a hashed IP + day for anonymous citizens).
create table reports.support (
    report_id bigint not null references reports.report (id) on delete cascade,
    supporter text not null,
    at timestamptz not null default now(),
    primary key (report_id, supporter)
);

-- Emails to reporters (status changes): an outbox drained by a sender in any process (FOR UPDATE SKIP LOCKED).
create table reports.notification (
    id bigint generated always as identity primary key,
    report_id bigint references reports.report (id) on delete cascade,
    to_address text not null,
    subject text not null,
    body text not null,
    state text not null default 'pending' check (state in ('pending', 'sent', 'dead')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz
);
create index notification_due_idx on reports.notification (next_attempt_at) where state = 'pending';

-- Outgoing webhooks per comune (maintenance systems): every report.changed of the comune is delivered, signed.
create table reports.webhook (
    id bigint generated always as identity primary key,
    comune text not null check (comune ~ '^[0-9]{6}$'),
    url text not null check (url ~ '^https?://'),
    secret text not null check (length(secret) >= 16),
    active boolean not null default true,
    created_at timestamptz not null default now()
);
create table reports.webhook_delivery (
    id bigint generated always as identity primary key,
    webhook_id bigint not null references reports.webhook (id) on delete cascade,
    event_id bigint not null,
    payload jsonb not null,
    state text not null default 'pending' check (state in ('pending', 'delivered', 'dead')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_status integer,
    last_error text,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    unique (webhook_id, event_id)
);
create index report_webhook_due_idx on reports.webhook_delivery (next_attempt_at) where state = 'pending';
