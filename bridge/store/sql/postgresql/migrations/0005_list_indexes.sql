-- 0005 (PostgreSQL): the twin of ../../migrations/0005_list_indexes.sql: the same indexes for
-- listing at a million artifacts (docs/store.md, "Queries at scale"), and the same stale_roots
-- table, kept by PL/pgSQL trigger functions where SQLite has trigger bodies. The text columns
-- indexed here have the "C" collation (manifest_v1.sql), so the key-prefix range is byte order.

CREATE INDEX idx_artifacts_type_created ON artifacts (artifact_type, created_at, artifact_id);
CREATE INDEX idx_artifacts_status_created ON artifacts (status, created_at, artifact_id);
CREATE INDEX idx_artifacts_type_status_created ON artifacts (artifact_type, status, created_at, artifact_id);
CREATE INDEX idx_artifacts_key ON artifacts (logical_key);
CREATE INDEX idx_artifacts_min_ts ON artifacts (min_ts);
CREATE INDEX idx_artifacts_max_ts ON artifacts (max_ts);

-- (k, v) → artifact ids without touching the table: replaces idx_tags_kv.
CREATE INDEX idx_tags_kv_artifact ON artifact_tags (k, v, artifact_id);
DROP INDEX idx_tags_kv;

-- The artifacts that are not active and have dependents (where `listStale` starts).
CREATE TABLE stale_roots (artifact_id TEXT COLLATE "C" PRIMARY KEY);

INSERT INTO stale_roots
SELECT a.artifact_id FROM artifacts a
WHERE a.status != 'active' AND EXISTS (SELECT 1 FROM artifact_lineage l WHERE l.input_artifact_id = a.artifact_id);

CREATE FUNCTION stale_roots_on_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'active' THEN
    DELETE FROM stale_roots WHERE artifact_id = NEW.artifact_id;
  ELSIF EXISTS (SELECT 1 FROM artifact_lineage l WHERE l.input_artifact_id = NEW.artifact_id) THEN
    INSERT INTO stale_roots VALUES (NEW.artifact_id) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER stale_roots_on_status AFTER UPDATE OF status ON artifacts
FOR EACH ROW EXECUTE FUNCTION stale_roots_on_status();

-- Writers are not serialised here as in SQLite: a new edge and a status change of its input can
-- commit at once. Locking the input's row FOR SHARE (whatever its status, so the WHERE has no
-- status test) orders them: a status change waits for the edge's transaction, whose edge its
-- trigger then sees (READ COMMITTED: each statement of a trigger function takes a new snapshot);
-- an edge waits for a status change, and reads the row as committed. The root is never missed.
CREATE FUNCTION stale_roots_on_edge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  input_status TEXT;
BEGIN
  SELECT a.status INTO input_status FROM artifacts a WHERE a.artifact_id = NEW.input_artifact_id FOR SHARE;
  IF input_status IS NOT NULL AND input_status != 'active' THEN
    INSERT INTO stale_roots VALUES (NEW.input_artifact_id) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER stale_roots_on_edge AFTER INSERT ON artifact_lineage
FOR EACH ROW EXECUTE FUNCTION stale_roots_on_edge();
