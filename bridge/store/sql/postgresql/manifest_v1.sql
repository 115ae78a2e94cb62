-- Manifest schema v1 for PostgreSQL: the four tables and three indexes of ../manifest_v1.sql, column names
-- verbatim (the SQLite set is ../manifest_v1.sql). Text columns that are compared or ordered use
-- the "C" collation, so ordering (and the list cursor) is byte order, as in SQLite, whatever the
-- database's locale. Timestamps stay ISO-8601 text, as in SQLite, so both backends hold the same rows.

CREATE TABLE IF NOT EXISTS artifacts (
  artifact_id TEXT COLLATE "C" PRIMARY KEY,
  artifact_type TEXT COLLATE "C" NOT NULL,
  schema_version INTEGER NOT NULL,
  logical_key TEXT COLLATE "C" NOT NULL,
  status TEXT NOT NULL,  -- active | superseded | tombstoned
  path_parquet TEXT NOT NULL,
  path_sidecar TEXT NOT NULL,
  file_hash TEXT NOT NULL UNIQUE,
  content_hash TEXT COLLATE "C" NOT NULL,
  row_count BIGINT NOT NULL,
  min_ts TEXT COLLATE "C",
  max_ts TEXT COLLATE "C",
  created_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE IF NOT EXISTS artifact_lineage (
  artifact_id TEXT COLLATE "C" NOT NULL,
  input_artifact_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (artifact_id, input_artifact_id)
);

CREATE TABLE IF NOT EXISTS artifact_tags (
  artifact_id TEXT COLLATE "C" NOT NULL,
  k TEXT COLLATE "C" NOT NULL,
  v TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (artifact_id, k, v)
);

CREATE TABLE IF NOT EXISTS artifact_supersedes (
  artifact_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  supersedes_artifact_id TEXT COLLATE "C" NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_artifacts_type_key ON artifacts (artifact_type, logical_key);
CREATE INDEX IF NOT EXISTS idx_artifacts_content_hash ON artifacts (content_hash);
CREATE INDEX IF NOT EXISTS idx_artifacts_type_key_content ON artifacts (artifact_type, logical_key, content_hash);
