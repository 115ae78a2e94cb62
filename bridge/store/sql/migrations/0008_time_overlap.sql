-- 0008: the time-overlap filter at scale (docs/store.md, "Queries at scale").
-- An artifact overlaps [from, to) when max_ts >= from and min_ts < to. Neither side alone is
-- selective (each matches about half of a lake), so each artifact gets a span class: the least c
-- with max_ts - min_ts <= 4^c minutes (13: longer than 4^12 minutes, about 32 years). Within
-- class c an overlapping artifact has min_ts >= from - 4^c minutes, so one range of the index
-- (class, min_ts) per class finds the overlaps, reading at most about 4x the answer, whatever the
-- window. A virtual generated column: nothing to fill in on insert, nothing stored in the row.

ALTER TABLE artifacts ADD COLUMN ts_span_class INTEGER GENERATED ALWAYS AS (
  CASE WHEN min_ts IS NULL OR max_ts IS NULL THEN NULL
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 1 THEN 0
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 4 THEN 1
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 16 THEN 2
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 64 THEN 3
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 256 THEN 4
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 1024 THEN 5
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 4096 THEN 6
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 16384 THEN 7
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 65536 THEN 8
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 262144 THEN 9
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 1048576 THEN 10
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 4194304 THEN 11
       WHEN (julianday(max_ts) - julianday(min_ts)) * 1440 <= 16777216 THEN 12
       ELSE 13 END) VIRTUAL;

-- created_at, artifact_id, type and status too: a listing filtered by time (and type, status) is
-- found and sorted from the index alone.
CREATE INDEX idx_artifacts_span_min_ts
  ON artifacts (ts_span_class, min_ts, max_ts, created_at, artifact_id, artifact_type, status);
