-- 0004: where a publish's git provenance came from, and projection definitions kept in the
-- manifest (so deleting cache/ loses no projection: `project ls` lists them, `project rebuild`
-- builds them again).

-- given | detected (from the writer's working directory) | unknown (commit and dirty not known).
-- NULL for artifacts published before this migration: they were given (or omitted as NULL).
ALTER TABLE artifact_provenance ADD COLUMN git_source TEXT;

CREATE TABLE projection_definitions (
  projection_id TEXT PRIMARY KEY,
  name TEXT,
  definition_json TEXT NOT NULL,   -- the projection's projection.json body (tables, inputs, kind)
  created_at TEXT NOT NULL,
  dropped_at TEXT                  -- set by `project drop`; a dropped definition is not rebuilt
);
