-- 0005: indexes for browsing a big lake (the UI, `bridge ls`): counts by type and status and
-- type/status filters newest first without reading the table, and the other list orders.

CREATE INDEX idx_artifacts_type_status_created ON artifacts (artifact_type, status, created_at, artifact_id);
CREATE INDEX idx_artifacts_key_id ON artifacts (logical_key, artifact_id);
CREATE INDEX idx_artifacts_rows_id ON artifacts (row_count, artifact_id);
