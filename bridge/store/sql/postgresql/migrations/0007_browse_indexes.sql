-- 0007 (PostgreSQL): the twin of ../../migrations/0007_browse_indexes.sql: keyset pages by
-- (logical_key, artifact_id) and (row_count, artifact_id). Key-text search (strpos) reads the
-- first of them, or the table, whichever the planner finds cheaper: no b-tree serves a substring.

CREATE INDEX idx_artifacts_key_id ON artifacts (logical_key, artifact_id);
CREATE INDEX idx_artifacts_rows_id ON artifacts (row_count, artifact_id);
