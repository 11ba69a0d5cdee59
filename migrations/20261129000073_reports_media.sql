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
