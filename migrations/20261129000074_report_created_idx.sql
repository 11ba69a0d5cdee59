-- Lists of reports are newest first: a page is an index walk instead of a sort of every report.
create index report_created_idx on reports.report (created_at, id);
