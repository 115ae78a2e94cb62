-- 0004 (PostgreSQL): where a publish's git provenance came from, and projection definitions kept
-- in the manifest (same as the SQLite 0004).

-- given | detected (from the writer's working directory) | unknown (commit and dirty not known).
-- NULL for artifacts published before this migration: they were given (or omitted as NULL).
ALTER TABLE artifact_provenance ADD COLUMN git_source TEXT;

-- One row per projection: its last built record (mode, tables, input ids and content hashes,
-- fingerprint), written before the projection's sidecar in cache/ commits a build, deleted by
-- `project dispose`. The DuckDB file itself stays disposable.
CREATE TABLE projection_definitions (
  projection_id TEXT COLLATE "C" PRIMARY KEY,
  record_json TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
