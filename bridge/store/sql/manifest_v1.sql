-- Manifest schema v1: the PRD's four tables and three indexes, column names verbatim.
-- Later changes are numbered migrations in migrations/NNNN_name.sql, recorded in schema_migrations.

CREATE TABLE IF NOT EXISTS artifacts (
  artifact_id TEXT PRIMARY KEY,
  artifact_type TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  logical_key TEXT NOT NULL,
  status TEXT NOT NULL,  -- active | superseded | tombstoned
  path_parquet TEXT NOT NULL,
  path_sidecar TEXT NOT NULL,
  file_hash TEXT NOT NULL UNIQUE,
  content_hash TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  min_ts TEXT,
  max_ts TEXT,
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS artifact_lineage (
  artifact_id TEXT NOT NULL,
  input_artifact_id TEXT NOT NULL,
  PRIMARY KEY (artifact_id, input_artifact_id)
);

CREATE TABLE IF NOT EXISTS artifact_tags (
  artifact_id TEXT NOT NULL,
  k TEXT NOT NULL,
  v TEXT NOT NULL,
  PRIMARY KEY (artifact_id, k, v)
);

CREATE TABLE IF NOT EXISTS artifact_supersedes (
  artifact_id TEXT NOT NULL PRIMARY KEY,
  supersedes_artifact_id TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_artifacts_type_key ON artifacts (artifact_type, logical_key);
CREATE INDEX IF NOT EXISTS idx_artifacts_content_hash ON artifacts (content_hash);
CREATE INDEX IF NOT EXISTS idx_artifacts_type_key_content ON artifacts (artifact_type, logical_key, content_hash);
