-- 0006: what verify needs to run at disk speed.
-- file_bytes: the Parquet file's size at publish (NULL for artifacts published before 0005), so
-- `verify --quick` checks existence, size and mode from one directory walk, reading no file.
-- verify_runs: one row per verify; `verify --incremental` re-hashes only what changed since the
-- start of the last clean full verify.

ALTER TABLE artifacts ADD COLUMN file_bytes INTEGER;

CREATE TABLE verify_runs (
  run_id INTEGER PRIMARY KEY AUTOINCREMENT,
  mode TEXT NOT NULL,            -- quick | full | deep | incremental
  since TEXT,                    -- incremental: files changed or published at/after this instant
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  checked INTEGER NOT NULL,      -- artifacts looked at
  hashed INTEGER NOT NULL,       -- of which files re-hashed
  issues INTEGER NOT NULL,
  ok INTEGER NOT NULL
);

CREATE INDEX idx_verify_runs_clean ON verify_runs (ok, mode, started_at);
