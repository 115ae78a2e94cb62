"""Migration of a legacy DuckDB alerts table (real DuckDB file, opened read-only)."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pytest

from bridge.errors import InvalidInput
from bridge.ingest.legacy import migrate_duckdb, resolve_mapping
from bridge.ingest.normalize import alert_id_for
from bridge.ingest.pipeline import canonical_alerts, ingest_telegram
from bridge.ingest.provenance import CodeVersion
from tests.ingest.builder import (
    BAD_CHECKSUM, BONK, LOOKALIKES, PEPE_ETH, T0, USDC_SOL, channel_post, ent, single_chat, write,
)

CODE = CodeVersion("c" * 40, True)


def legacy_db(path, rows=None):
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE alerts (id INTEGER, channel_id BIGINT, channel VARCHAR, msg_id BIGINT, caller VARCHAR,
                   mint VARCHAR, network VARCHAR, created_at TIMESTAMP, message VARCHAR, score DOUBLE, notes VARCHAR)""")
    rows = rows if rows is not None else [
        (1, 777, "Alpha Calls", 1, "Max", BONK, "solana", datetime(2024, 3, 1, 9, 1), "🚀 BONK", 0.9, None),
        (2, 777, "Alpha Calls", 20, "Max", PEPE_ETH, "eth", datetime(2024, 3, 2), "pepe", 0.5, "x"),
        (3, 777, "Alpha Calls", 21, "Max", BAD_CHECKSUM, "eth", datetime(2024, 3, 2), "typo", None, None),
        (4, 777, "Alpha Calls", 22, "Max", LOOKALIKES[0], "solana", datetime(2024, 3, 2), "word", None, None),
        (5, 777, "Alpha Calls", 23, "Max", None, "solana", datetime(2024, 3, 2), "no token", None, None),
        (6, 777, "Alpha Calls", 24, "Max", USDC_SOL, "ethereum", datetime(2024, 3, 2), "mislabelled", None, None),
        (7, 777, "Alpha Calls", 25, "Max", USDC_SOL, "solana", None, "no time", None, None),
        (8, 777, "Alpha Calls", 20, "Max", PEPE_ETH, "eth", datetime(2024, 3, 2), "pepe dup", 0.5, "x"),
    ]
    con.executemany("INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.close()
    return path


def test_default_mapping_reports_unmapped_columns():
    chosen, unmapped = resolve_mapping(["id", "channel_id", "mint", "created_at", "score"], None, None)
    assert chosen == {"alert_ts": "created_at", "chat_id": "channel_id", "token_address": "mint"}
    assert unmapped == ["id", "score"]
    with pytest.raises(InvalidInput, match="no column for token_address"):
        resolve_mapping(["id", "created_at"], None, None)
    with pytest.raises(InvalidInput, match="has no column 'nope'"):
        resolve_mapping(["id", "created_at", "mint"], {"text": "nope"}, None)


def test_migrate_validates_quarantines_and_reports(store, tmp_path):
    db = legacy_db(tmp_path / "alerts.duckdb")
    rep = migrate_duckdb(store, db, code=CODE)
    assert rep.messages_read == 8
    assert rep.unmapped_columns == ["id", "score", "notes"]
    assert rep.alerts == 2
    assert rep.duplicates == {"duplicate_row": 1}
    assert rep.quarantined == {"bad_evm_checksum": 1, "wrong_length": 1, "missing_token": 1, "chain_mismatch": 1,
                               "missing_utc_time": 1}
    alerts_art = [store.get(a) for a in rep.artifact_ids if store.get(a).artifact_type == "alerts_v1"][0]
    rows = {r["token_address"]: r for r in store.read_table(alerts_art.artifact_id).to_pylist()}
    assert rows[BONK]["alert_id"] == alert_id_for("777", 1, BONK)
    assert rows[BONK]["alert_ts"] == datetime(2024, 3, 1, 9, 1, tzinfo=timezone.utc)
    assert rows[PEPE_ETH.lower()]["chain"] == "ethereum" and rows[BONK]["found_in"] == "legacy"
    assert alerts_art.tags["git_dirty"] == ["true"] and alerts_art.tags["table"] == ["alerts"]
    q = [store.get(a) for a in rep.artifact_ids if store.get(a).artifact_type == "alerts_quarantine"][0]
    assert q.input_artifact_ids == alerts_art.input_artifact_ids
    # read-only: the legacy file can still be opened for writing afterwards, and is unchanged
    con = duckdb.connect(str(db))
    assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] == 8
    con.close()
    again = migrate_duckdb(store, db, code=CODE)
    assert again.new_artifact_ids == [] and again.artifact_ids == rep.artifact_ids


def test_migration_and_telegram_share_alert_ids(store, tmp_path):
    path = write(tmp_path / "r.json", single_chat(777, [channel_post(1, ["🚀 ", ent("code", BONK)])]))
    ingest_telegram(store, path, code=CODE)
    rep = migrate_duckdb(store, legacy_db(tmp_path / "a.duckdb"), code=CODE)
    assert rep.duplicates.get("already_published") == 1  # BONK of message 1 came from Telegram first
    ids = canonical_alerts(store, "777").column("alert_id").to_pylist()
    assert len(ids) == len(set(ids)) == 2


def test_mapping_defaults_and_epoch_millis(store, tmp_path):
    db = tmp_path / "x.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE calls (ca VARCHAR, ts_ms BIGINT, who VARCHAR)")
    con.execute("INSERT INTO calls VALUES (?, ?, ?)", [BONK, int(T0.timestamp() * 1000), "bob"])
    con.close()
    rep = migrate_duckdb(store, db, "calls", {"alert_ts": "ts_ms", "caller_name": "who"},
                         defaults={"chat_id": "legacy-calls"}, code=CODE)
    assert rep.alerts == 1 and rep.unmapped_columns == []
    [row] = canonical_alerts(store, "legacy-calls").to_pylist()
    assert row["alert_ts"] == T0 and row["caller_name"] == "bob" and row["chain"] == "solana"


def test_unknown_table_and_missing_file(store, tmp_path):
    db = legacy_db(tmp_path / "a.duckdb")
    with pytest.raises(InvalidInput, match="no table 'nope'; tables: alerts"):
        migrate_duckdb(store, db, "nope", code=CODE)
    with pytest.raises(InvalidInput, match="not found"):
        migrate_duckdb(store, tmp_path / "missing.duckdb", code=CODE)
