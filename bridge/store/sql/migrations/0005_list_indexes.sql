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

-- Stale lists start from the artifacts that are not active and have dependents: kept here by
-- triggers on every status change and every new lineage edge, so `listStale` costs what its
-- answer costs, not a probe per superseded or tombstoned artifact of the whole manifest.
CREATE TABLE stale_roots (artifact_id TEXT PRIMARY KEY);

INSERT INTO stale_roots
SELECT a.artifact_id FROM artifacts a
WHERE a.status != 'active' AND EXISTS (SELECT 1 FROM artifact_lineage l WHERE l.input_artifact_id = a.artifact_id);

CREATE TRIGGER stale_roots_on_status AFTER UPDATE OF status ON artifacts
BEGIN
  DELETE FROM stale_roots WHERE artifact_id = NEW.artifact_id AND NEW.status = 'active';
  INSERT OR IGNORE INTO stale_roots
  SELECT NEW.artifact_id WHERE NEW.status != 'active'
    AND EXISTS (SELECT 1 FROM artifact_lineage l WHERE l.input_artifact_id = NEW.artifact_id);
END;

CREATE TRIGGER stale_roots_on_edge AFTER INSERT ON artifact_lineage
BEGIN
  INSERT OR IGNORE INTO stale_roots
  SELECT NEW.input_artifact_id FROM artifacts a WHERE a.artifact_id = NEW.input_artifact_id AND a.status != 'active';
END;
