-- 0005: indexes for listing at a million artifacts (docs/store.md, "Queries at scale").
-- Each listArtifacts filter has an index that finds its matches without a full scan; the ones
-- ending in (created_at, artifact_id) also yield them in page order, so a page of 100 stops early.
-- Plain SQL, portable to other engines.

CREATE INDEX idx_artifacts_type_created ON artifacts (artifact_type, created_at, artifact_id);
CREATE INDEX idx_artifacts_status_created ON artifacts (status, created_at, artifact_id);
CREATE INDEX idx_artifacts_type_status_created ON artifacts (artifact_type, status, created_at, artifact_id);
CREATE INDEX idx_artifacts_key ON artifacts (logical_key);
CREATE INDEX idx_artifacts_min_ts ON artifacts (min_ts);
CREATE INDEX idx_artifacts_max_ts ON artifacts (max_ts);

-- (k, v) → artifact ids without touching the table: replaces idx_tags_kv.
CREATE INDEX idx_tags_kv_artifact ON artifact_tags (k, v, artifact_id);
DROP INDEX idx_tags_kv;
