-- 0003 (PostgreSQL): experiment run records (bridge.experiments.runs). One row per execution of a definition;
-- the frozen inputs (ids + content hashes at freeze time) and the sweeps that group runs.

CREATE TABLE experiment_runs (
  run_id TEXT COLLATE "C" PRIMARY KEY,
  experiment_id TEXT NOT NULL,
  sweep_id TEXT,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  definition_json TEXT NOT NULL,
  definition_hash TEXT NOT NULL,
  projection_id TEXT,
  created_at TEXT COLLATE "C" NOT NULL,
  started_at TEXT,
  completed_at TEXT,
  duration_ms BIGINT,
  error TEXT,
  error_type TEXT,
  outputs_json TEXT NOT NULL DEFAULT '{}',
  new_artifacts INTEGER NOT NULL DEFAULT 0,
  host TEXT,                     -- where the run executes: a pending/running run of a dead
  pid INTEGER                    -- process on this host is marked failed (error_type Crashed)
);

CREATE TABLE experiment_run_inputs (
  run_id TEXT COLLATE "C" NOT NULL REFERENCES experiment_runs (run_id),
  role TEXT NOT NULL,            -- alerts | ohlcv | strategies
  artifact_id TEXT NOT NULL,
  artifact_type TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  status TEXT NOT NULL,          -- the input's status when the run froze it
  PRIMARY KEY (run_id, role, artifact_id)
);

CREATE TABLE experiment_sweeps (
  sweep_id TEXT COLLATE "C" PRIMARY KEY,
  experiment_id TEXT NOT NULL,   -- the base definition's id; points are <id>--<hash>
  grid_json TEXT NOT NULL,
  created_at TEXT COLLATE "C" NOT NULL
);

CREATE INDEX idx_runs_experiment ON experiment_runs (experiment_id, created_at);
CREATE INDEX idx_runs_sweep ON experiment_runs (sweep_id);
CREATE INDEX idx_runs_created ON experiment_runs (created_at, run_id);
