-- The live-event spine: an append-only outbox written in the same transaction as the data it announces, read by
-- every Vedetta process (SSE, alert evaluator, tile invalidation), woken by NOTIFY on channel `vedetta_event`.
--
-- Ordering. Event ids come from an identity with cache 1, and a writer takes the transaction-level advisory lock
-- core.event_append_lock() right before inserting its events, as the last thing before COMMIT (see
-- database::event::append). The lock is released only after the commit is visible, so ids become visible in id
-- order: a reader that has seen id N never later finds a committed id below N. `id > last` is then a safe cursor
-- (SSE Last-Event-ID), and the order of ids is the order of commits.
create table core.event (
    id bigint generated always as identity (cache 1) primary key,
    -- typed: readings.committed, alert.changed, report.changed, import.finished, …
    kind text not null check (kind ~ '^[a-z_]+\.[a-z_]+$'),
    -- what the event is about, for filtering (station code, alert id, layer …)
    subject text,
    payload jsonb not null,
    created_at timestamptz not null default now()
);
create index event_kind_idx on core.event (kind, id);
create index event_created_idx on core.event (created_at);
comment on table core.event is
    'Live-event spine (outbox): ids visible in commit order; retention by core.event created_at';

-- The key of the lock that orders appends (namespace 0x5644 "VD", object 1).
create function core.event_append_lock() returns void
    language sql volatile
as $$ select pg_advisory_xact_lock(22084, 1) $$;
