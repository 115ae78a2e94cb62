"""Publishing: idempotency, dedup modes, determinism, validation errors, paths, sidecars."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bridge.errors import UnknownArtifactType, UnknownInputArtifact, ValidationFailed
from bridge.store import Store
from tests.store.samples import OHLCV_KEY, candles, publish_candles, publish_metrics


def test_publish_registers_file_sidecar_and_manifest_row(store):
    res = publish_candles(store, tags={"res": "1m", "kind": "ohlcv_slice"})
    a = res.artifact
    assert not res.deduped and res.mode is None
    assert a.status == "active" and a.row_count == 50
    assert a.min_ts == "2026-01-26T00:00:00.000000Z" and a.max_ts == "2026-01-26T00:49:00.000000Z"
    assert store.files.exists(a.path_parquet) and store.files.exists(a.path_sidecar)
    assert a.path_parquet.startswith(store.files.uri("artifacts/ohlcv_slice/v2") + "/")
    sidecar = json.loads(store.files.read_bytes(a.path_sidecar))
    assert sidecar["artifact_id"] == a.artifact_id and sidecar["writer_name"] == "test"
    assert sidecar["tags"] == {"kind": ["ohlcv_slice"], "res": ["1m"]}
    meta = pq.ParquetFile(store.files.open_input(a.path_parquet)).schema_arrow.metadata
    assert meta[b"qb.logical_key"] == OHLCV_KEY.encode() and meta[b"qb.content_hash"] == a.content_hash.encode()
    # key columns were filled from the logical key
    t = store.read_table(a.artifact_id)
    assert t.column("token").unique().to_pylist() == ["ABC"] and t.column("resolution").unique().to_pylist() == ["1m"]


def test_republish_same_data_is_deduped_by_content(store):
    first = publish_candles(store)
    again = store.publish("ohlcv_slice", 2, OHLCV_KEY, candles(50).to_pylist(), writer_name="other", writer_version="9")
    assert again.deduped and again.mode == "content_hash" and again.artifact_id == first.artifact_id
    assert again.existing_artifact_id == first.artifact_id
    assert len(store.list().items) == 1


def test_republish_the_artifact_file_is_deduped_by_file_hash(store):
    first = publish_candles(store)
    again = store.publish("ohlcv_slice", 2, OHLCV_KEY, store.local_parquet(first.artifact), writer_name="t", writer_version="1")
    assert again.deduped and again.mode == "file_hash" and again.artifact_id == first.artifact_id


def test_same_rows_under_another_key_is_another_artifact_and_file(store):
    a = publish_candles(store)
    b = publish_candles(store, key=OHLCV_KEY.replace("from=", "from=x"))
    assert not b.deduped and a.artifact_id != b.artifact_id
    assert a.artifact.content_hash != b.artifact.content_hash or a.artifact.file_hash != b.artifact.file_hash
    assert a.artifact.file_hash != b.artifact.file_hash


def test_different_data_under_existing_key_is_new_and_old_stays_active(store):
    a = publish_candles(store, seed=1)
    b = publish_candles(store, seed=2)
    assert a.artifact_id != b.artifact_id
    assert {x.status for x in store.find_by_logical_key("ohlcv_slice", OHLCV_KEY)} == {"active"}
    assert len(store.find_by_logical_key("ohlcv_slice", OHLCV_KEY)) == 2


def test_ids_and_bytes_are_deterministic_across_lakes(tmp_path, lake_dir):
    one, two = Store(tmp_path / "a"), Store(lake_dir)  # the embedded default and this backend
    r1, r2 = publish_candles(one), publish_candles(two)
    assert r1.artifact_id == r2.artifact_id
    assert r1.artifact.file_hash == r2.artifact.file_hash
    assert Path(r1.artifact.path_parquet).read_bytes() == two.files.read_bytes(r2.artifact.path_parquet)


def test_csv_with_only_candle_columns_publishes_under_token_key(store, tmp_path):
    csv = tmp_path / "slice.csv"
    csv.write_text("ts,open,high,low,close,volume\n2026-01-26T00:01:00Z,1,2,0.5,1.5,10\n2026-01-26 00:00:00+00:00,1,2,0.5,1.5,10\n")
    res = store.publish("ohlcv_slice", 2, "token=So1ana/res=1s/from=a/to=b", csv, writer_name="w", writer_version="1")
    t = store.read_table(res.artifact_id)
    assert t.column("ts").to_pylist()[0].isoformat() == "2026-01-26T00:00:00+00:00"  # canonical row order
    assert t.column("token").to_pylist() == ["So1ana", "So1ana"]


@pytest.mark.parametrize(
    ("body", "column", "row", "rule"),
    [
        ("ts,open,high,low,close,volume\n2026-01-26T00:00:00Z,1,2,0.5,1.5,10\nnot-a-time,1,2,0.5,1.5,10\n", "ts", 1, "timestamp"),
        ("ts,open,high,low,close,volume\n2026-01-26T00:00:00Z,1,2,0.5,1.5,10\n2026-01-26T00:01:00Z,1,x,0.5,1.5,10\n", "high", 1, "lossless_cast"),
        ("ts,open,high,low,close\n2026-01-26T00:00:00Z,1,2,0.5,1.5\n", "volume", None, "missing_column"),
        ("ts,open,high,low,close,volume\n2026-01-26T00:00:00Z,1,2,0.5,1.5,10\n2026-01-26T00:01:00Z,1,2,0.5,1.5,\n", "volume", 1, "not_null"),
        ("ts,open,high,low,close,volume,extra\n2026-01-26T00:00:00Z,1,2,0.5,1.5,10,1\n", "extra", None, "unknown_column"),
    ],
)
def test_bad_csv_is_rejected_naming_column_and_row(store, tmp_path, body, column, row, rule):
    csv = tmp_path / "bad.csv"
    csv.write_text(body)
    with pytest.raises(ValidationFailed) as err:
        store.publish("ohlcv_slice", 2, "token=A/res=1m", csv, writer_name="w", writer_version="1")
    assert err.value.data.get("column") == column and err.value.data.get("rule") == rule
    assert err.value.data.get("row") == row
    if row is not None:
        assert err.value.data["line"] == row + 2 and f"line {row + 2}" in str(err.value)
    assert store.list().items == []
    assert not any(k.endswith(".parquet") for k in store.files.list_keys())


def test_rule_violation_names_the_input_row(store):
    rows = candles(10).to_pylist()
    rows[7]["high"] = rows[7]["low"] - 1  # high below everything
    rows.reverse()  # input order differs from canonical order: the input row is reported
    with pytest.raises(ValidationFailed) as err:
        store.publish("ohlcv_slice", 2, "token=A/res=1m", rows, writer_name="w", writer_version="1")
    assert err.value.data["rule"] == "high_ge_open_close" and err.value.data["row"] == 2


def test_duplicate_unique_key_is_rejected_with_row(store):
    t = candles(5)
    dup = pa.concat_tables([t, t.slice(3, 1)])
    with pytest.raises(ValidationFailed) as err:
        store.publish("ohlcv_slice", 2, "token=A/res=1m", dup, writer_name="w", writer_version="1")
    assert err.value.data["rule"] == "unique" and err.value.data["row"] in (3, 5)


def test_lossy_casts_are_refused_not_coerced(store):
    rows = [{"run_id": "r", "metric_name": "m", "metric_value": 1.0, "metric_unit": None, "computed_at": "2026-01-01T00:00:00Z"}]
    ok = store.publish("run_metrics", 1, "k", rows, writer_name="w", writer_version="1")
    assert ok.artifact.row_count == 1
    t = pa.table({"run_id": ["r"], "metric_name": ["m"], "metric_value": [2**53 + 1], "metric_unit": [None],
                  "computed_at": ["2026-01-01T00:00:00Z"]})
    with pytest.raises(ValidationFailed) as err:
        store.publish("run_metrics", 1, "k2", t, writer_name="w", writer_version="1")
    assert err.value.data["column"] == "metric_value" and err.value.data["row"] == 0
    ns = pa.table({"run_id": ["r"], "metric_name": ["m"], "metric_value": [1.0], "metric_unit": ["x"],
                   "computed_at": pa.array([1_000_000_001], pa.timestamp("ns", tz="UTC"))})
    with pytest.raises(ValidationFailed) as err:
        store.publish("run_metrics", 1, "k3", ns, writer_name="w", writer_version="1")
    assert err.value.data["column"] == "computed_at"


def test_nan_is_refused(store):
    rows = [{"run_id": "r", "metric_name": "m", "metric_value": float("nan"), "metric_unit": None,
             "computed_at": "2026-01-01T00:00:00Z"}]
    with pytest.raises(ValidationFailed) as err:
        store.publish("run_metrics", 1, "k", rows, writer_name="w", writer_version="1")
    assert err.value.data["rule"] == "finite"


def test_mixed_types_in_inline_rows_name_the_row(store):
    rows = [*metrics_like(2), {"run_id": 5, "metric_name": "x", "metric_value": 1.0, "metric_unit": None,
                               "computed_at": "2026-01-01T00:00:00Z"}]
    with pytest.raises(ValidationFailed) as err:
        store.publish("run_metrics", 1, "k", rows, writer_name="w", writer_version="1")
    assert err.value.data["column"] == "run_id" and err.value.data["row"] == 2


def metrics_like(n):
    return [{"run_id": f"r{i}", "metric_name": "m", "metric_value": float(i), "metric_unit": None,
             "computed_at": "2026-01-01T00:00:00Z"} for i in range(n)]


def test_unknown_type_and_version(store):
    with pytest.raises(UnknownArtifactType) as err:
        store.publish("nope", 1, "k", [], writer_name="w", writer_version="1")
    assert "ohlcv_slice@v2" in err.value.data["known"]
    with pytest.raises(UnknownArtifactType):
        store.publish("ohlcv_slice", 1, "k", [], writer_name="w", writer_version="1")


def test_unknown_inputs_are_rejected_and_nothing_written(store):
    with pytest.raises(UnknownInputArtifact) as err:
        publish_metrics(store, inputs=["0" * 32])
    assert err.value.data["missing"] == ["0" * 32]
    assert store.list().items == [] and not any(store.files.list_keys())


def test_derived_types_require_inputs(store):
    with pytest.raises(ValidationFailed) as err:
        store.publish("experiment_metrics", 1, "experiment=x/metrics",
                      [{"experiment_id": "x", "metric_name": "m", "metric_value": 1.0, "metric_unit": None,
                        "computed_at": "2026-01-01T00:00:00Z"}], writer_name="w", writer_version="1")
    assert err.value.data["rule"] == "derived_requires_inputs"


@pytest.mark.parametrize("key", ["../../etc/passwd", "/abs/path", "a/../../b", "token=..%2f..", "x" * 1000])
def test_user_strings_never_place_files_outside_the_lake(store, key):
    res = store.publish("run_metrics", 1, key, metrics_like(1), writer_name="w", writer_version="1",
                        tags={"../../evil": "/etc"})
    p = res.artifact.path_parquet
    assert p.startswith(store.files.uri("artifacts") + "/") and store.files.key(p) in set(store.files.list_keys())
    assert p.rsplit("/", 1)[-1] == f"{res.artifact_id}.parquet"


def test_bad_logical_keys_and_tags(store):
    for key in ("", "   ", "a\nb", "x" * 2000):
        with pytest.raises(ValidationFailed):
            store.publish("run_metrics", 1, key, metrics_like(1), writer_name="w", writer_version="1")
    with pytest.raises(ValidationFailed):
        store.publish("run_metrics", 1, "k", metrics_like(1), writer_name="w", writer_version="1", tags=[("", "v")])


def test_publish_from_parquet_arrow_and_pandas_gives_one_artifact(store, tmp_path):
    import pyarrow.feather as feather

    t = candles(30)
    pq.write_table(t, tmp_path / "c.parquet", compression="snappy", row_group_size=7)
    feather.write_feather(t, tmp_path / "c.arrow")
    ids = {
        publish_candles(store, n=30).artifact_id,
        store.publish("ohlcv_slice", 2, OHLCV_KEY, tmp_path / "c.parquet", writer_name="t", writer_version="1").artifact_id,
        store.publish("ohlcv_slice", 2, OHLCV_KEY, tmp_path / "c.arrow", writer_name="t", writer_version="1").artifact_id,
        store.publish("ohlcv_slice", 2, OHLCV_KEY, t.to_pandas(), writer_name="t", writer_version="1").artifact_id,
    }
    assert len(ids) == 1


def test_unsupported_inputs_say_what_to_do(store, tmp_path):
    with pytest.raises(ValidationFailed, match="no such file"):
        store.publish("run_metrics", 1, "k", tmp_path / "missing.csv", writer_name="w", writer_version="1")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(ValidationFailed, match="unsupported file type"):
        store.publish("run_metrics", 1, "k", tmp_path / "x.xlsx", writer_name="w", writer_version="1")
    with pytest.raises(ValidationFailed, match="unsupported data"):
        store.publish("run_metrics", 1, "k", 42, writer_name="w", writer_version="1")


def test_params_must_be_json(store):
    with pytest.raises(ValidationFailed, match="params"):
        store.publish("run_metrics", 1, "k", metrics_like(1), writer_name="w", writer_version="1",
                      params={"x": float("inf")})


def test_provenance_is_recorded(store):
    res = store.publish("run_metrics", 1, "k", metrics_like(1), writer_name="w", writer_version="2.0",
                        git_commit="abc123", git_dirty=True, params={"a": 1})
    prov = store.provenance(res.artifact_id)
    assert prov.writer_version == "2.0" and prov.git_commit == "abc123" and prov.git_dirty is True
    assert prov.params == {"a": 1} and prov.canonical_form == "qb-content-v1"


def test_empty_table_publishes(store):
    res = store.publish("run_metrics", 1, "empty", [], writer_name="w", writer_version="1")
    assert res.artifact.row_count == 0 and res.artifact.min_ts is None


@pytest.mark.parametrize("spelling", ["2026-01-01T0{h}:00:00Z", "2026-01-01T0{h}:00:00+00:00", "2026-01-01 0{h}:00:00",
                                      "2026-01-01T0{h}:00:00", "mixed"])
def test_csv_timestamps_any_iso_spelling_give_one_content(store, tmp_path, spelling, monkeypatch):
    """Zoned text goes through the CSV reader's typed parse, naive or mixed through the text path:
    the same instants, the same content hash."""
    from bridge.store import canonical
    def text(h):
        if spelling == "mixed":
            return f"2026-01-01T0{h}:00:00Z" if h % 2 else f"2026-01-01T0{h}:00:00"
        return spelling.format(h=h)

    lines = ["run_id,metric_name,metric_value,metric_unit,computed_at"]
    lines += [f"r,m{h},{h}.5,u,{text(h)}" for h in range(4)]
    csv = tmp_path / "m.csv"
    csv.write_text("\n".join(lines) + "\n")
    rows = [{"run_id": "r", "metric_name": f"m{h}", "metric_value": h + 0.5, "metric_unit": "u",
             "computed_at": f"2026-01-01T0{h}:00:00Z"} for h in range(4)]
    want = store.publish("run_metrics", 1, "ref", rows, writer_name="t", writer_version="1").artifact.content_hash
    if spelling.endswith(("Z", "+00:00")):  # the typed read must take it: the text parser is not called
        monkeypatch.setattr(canonical, "_parse_timestamp_text", lambda *a: pytest.fail("text path taken"))
    got = store.publish("run_metrics", 1, "csv", csv, writer_name="t", writer_version="1").artifact.content_hash
    assert got == want


def test_csv_empty_timestamp_is_an_error_naming_the_line(store, tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("run_id,metric_name,metric_value,metric_unit,computed_at\nr,a,1,,2026-01-01T00:00:00Z\nr,b,2,,\n")
    with pytest.raises(ValidationFailed) as err:
        store.publish("run_metrics", 1, "csv", csv, writer_name="t", writer_version="1")
    assert err.value.data.get("column") == "computed_at" and err.value.data.get("line") == 3, err.value.data
