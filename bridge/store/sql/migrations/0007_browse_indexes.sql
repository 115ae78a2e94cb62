-- 0007: the other list orders (the UI, docs/ui.md): keyset pages by (logical_key, artifact_id) and
-- (row_count, artifact_id); the first also serves key-text search as an index-only scan.

CREATE INDEX idx_artifacts_key_id ON artifacts (logical_key, artifact_id);
CREATE INDEX idx_artifacts_rows_id ON artifacts (row_count, artifact_id);
