-- Dead letters keep any bytes. PostgreSQL's text refuses NUL and invalid UTF-8, so a message with a NUL byte in its
-- topic or payload could not be recorded: the topic and the payload head become bytea (exact bytes); the API shows
-- them as text with escapes, and the payload head also in base64.
alter table sensors.dead_letter
    alter column topic type bytea using convert_to(topic, 'UTF8'),
    alter column payload_head type bytea using convert_to(payload_head, 'UTF8');

comment on column sensors.dead_letter.topic is 'The MQTT topic, exactly as received';
comment on column sensors.dead_letter.payload_head is
    'The first 1 KiB of the payload (or of the offending element of an array or SenML pack), exactly';
comment on column sensors.dead_letter.reason is 'Why, in words; control characters of quoted input escaped as \xNN';

-- The listing filters by kind, newest first.
create index dead_letter_kind_idx on sensors.dead_letter (kind, id desc);
