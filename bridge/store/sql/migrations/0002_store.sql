-- 0002: provenance per artifact, the publish journal (crash recovery), status events,
-- and indexes for lineage walks and listing.

CREATE TABLE artifact_provenance (
  artifact_id TEXT PRIMARY KEY,
  writer_name TEXT NOT NULL,
  writer_version TEXT NOT NULL,
  git_commit TEXT,
  git_dirty INTEGER NOT NULL DEFAULT 0,
  params_json TEXT NOT NULL DEFAULT '{}',
  canonical_form TEXT NOT NULL
);

-- One row per publish in flight: written before files move into place, deleted in the
-- transaction that registers the artifact. Rows of dead processes are rolled back on open.
CREATE TABLE publish_journal (
  journal_id TEXT PRIMARY KEY,
  artifact_id TEXT NOT NULL,
  path_parquet TEXT NOT NULL,
  path_sidecar TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at TEXT NOT NULL
);

CREATE TABLE artifact_events (
  event_id INTEGER PRIMARY KEY AUTOINCREMENT,
  artifact_id TEXT NOT NULL,
  event TEXT NOT NULL,        -- published | superseded | tombstoned | files_removed
  at TEXT NOT NULL,
  detail TEXT
);

CREATE INDEX idx_lineage_input ON artifact_lineage (input_artifact_id);
CREATE INDEX idx_supersedes_old ON artifact_supersedes (supersedes_artifact_id);
CREATE INDEX idx_artifacts_created ON artifacts (created_at, artifact_id);
CREATE INDEX idx_tags_kv ON artifact_tags (k, v);
CREATE INDEX idx_events_artifact ON artifact_events (artifact_id);
