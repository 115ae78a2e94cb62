-- 0008 (PostgreSQL): the twin of ../../migrations/0008_time_overlap.sql: each artifact's span
-- class (the least c with max_ts - min_ts <= 4^c minutes; 13 beyond 4^12 minutes or for times
-- that cannot be read; NULL without times) and the index (class, min_ts, max_ts, created_at,
-- artifact_id) that finds the artifacts overlapping a time window with one range per class.
-- PostgreSQL has no virtual generated columns: a stored one, computed by an IMMUTABLE function.
-- The store writes times as 'YYYY-MM-DDTHH:MM:SS.ffffffZ', whose meaning depends on no setting.
-- (Checked against SQLite's classes on 346 spans: equal but within a millisecond of a class bound,
-- where SQLite's julianday rounds to milliseconds; the queries allow a second of slack.)

CREATE FUNCTION qb_ts_span_class(min_ts TEXT, max_ts TEXT) RETURNS INTEGER
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  minutes DOUBLE PRECISION;
BEGIN
  IF min_ts IS NULL OR max_ts IS NULL THEN
    RETURN NULL;
  END IF;
  minutes := EXTRACT(EPOCH FROM (max_ts::timestamptz - min_ts::timestamptz)) / 60;
  RETURN CASE
    WHEN minutes <= 1 THEN 0
    WHEN minutes <= 4 THEN 1
    WHEN minutes <= 16 THEN 2
    WHEN minutes <= 64 THEN 3
    WHEN minutes <= 256 THEN 4
    WHEN minutes <= 1024 THEN 5
    WHEN minutes <= 4096 THEN 6
    WHEN minutes <= 16384 THEN 7
    WHEN minutes <= 65536 THEN 8
    WHEN minutes <= 262144 THEN 9
    WHEN minutes <= 1048576 THEN 10
    WHEN minutes <= 4194304 THEN 11
    WHEN minutes <= 16777216 THEN 12
    ELSE 13 END;
EXCEPTION WHEN OTHERS THEN
  RETURN 13;  -- not a time: the unbounded class, so the overlap filter still checks it
END
$$;

ALTER TABLE artifacts ADD COLUMN ts_span_class INTEGER GENERATED ALWAYS AS (qb_ts_span_class(min_ts, max_ts)) STORED;

-- created_at, artifact_id, type and status too: a listing filtered by time (and type, status) is
-- found and sorted from the index alone.
CREATE INDEX idx_artifacts_span_min_ts
  ON artifacts (ts_span_class, min_ts, max_ts, created_at, artifact_id, artifact_type, status);
