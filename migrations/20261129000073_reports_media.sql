-- reports-media: the report webhook dispatcher's cursor, and the index of the transparency statistics.

-- The durable position of the report webhook dispatcher (reports::webhook::Dispatcher) on the event spine: the id
-- of the last `report.changed` event it fanned out into reports.webhook_delivery. Several processes may run a
-- dispatcher: they take turns on this row (select … for update), and the unique (webhook_id, event_id) of
-- reports.webhook_delivery keeps a replayed event from being delivered twice.
create table reports.consumer_cursor (
    consumer text primary key,
    last_event_id bigint not null check (last_event_id >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Transparency statistics (reports::stats) read a comune's public reports of a period from this index alone (an
-- index-only scan: no visit to the table's pages, which hold a comune's year scattered among everyone's).
create index report_public_stats_idx on reports.report (comune, created_at)
    include (category, status, acknowledged_at, resolved_at)
    where approved and not hidden;
