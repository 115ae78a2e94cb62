"""A large publish hashes and checks on another thread while it writes the file: the same
artifact, bytes and errors as the one-thread path, and nothing left in staging on any outcome.
(The row threshold and the row-group size are lowered so small tables take that path.)"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import Cancelled, ValidationFailed
from bridge.progress import Job
from bridge.store import Store, files
from bridge.store import store as store_module

from .samples import OHLCV_KEY, candles


@pytest.fixture
def overlap(monkeypatch):
    """Every publish takes the overlapped path, writing row groups of 7 rows, the file's bytes
    hashed on their own thread."""
    monkeypatch.setattr(store_module, "_OVERLAP_MIN_ROWS", 0)
    monkeypatch.setattr(files, "_THREADED_HASH_BYTES", -1)
    monkeypatch.setitem(files.PARQUET_SETTINGS, "row_group_size", 7)


def _publish(store, data, key=OHLCV_KEY, **kw):
    return store.publish("ohlcv_slice", 2, key, data, writer_name="test", writer_version="1", **kw)


def _staging(store) -> list[Path]:
    return sorted((store.lake.staging / "publish").glob("*")) if (store.lake.staging / "publish").exists() else []


_TABLES = st.builds(
    lambda n, cut, nulls: pa.table({
        "i": pa.array(range(n), pa.int64()),
        "s": pa.array([None if nulls and i % 3 == 0 else f"v{i}" for i in range(n)], pa.string()),
        "t": pa.array([i * 1_000_000 for i in range(n)], pa.timestamp("us", tz="UTC")),
    }),
    st.integers(0, 40), st.integers(0, 40), st.booleans(),
).map(lambda t: t if t.num_rows < 2 else pa.concat_tables([t.slice(0, t.num_rows // 2), t.slice(t.num_rows // 2)]))


@settings(max_examples=25, deadline=None)
@given(table=_TABLES, group=st.sampled_from([1, 5, 1 << 20]), threaded=st.booleans())
def test_write_parquet_is_byte_identical_to_write_table(tmp_path_factory, table, group, threaded):
    """Row groups written one by one and the footer metadata added last give pyarrow's own bytes,
    and the returned hash is the file's, whether hashed inline or on the hashing thread."""
    folder = tmp_path_factory.mktemp("w")
    settings_ = {**files.PARQUET_SETTINGS, "row_group_size": group}
    meta = {"qb.z": "last", "qb.a": "first"}
    original = dict(files.PARQUET_SETTINGS), files._THREADED_HASH_BYTES
    files.PARQUET_SETTINGS["row_group_size"] = group
    files._THREADED_HASH_BYTES = -1 if threaded else 1 << 62
    try:
        got = files.write_parquet(table, folder / "ours.parquet", {"qb.z": "last"}, late_metadata=lambda: {"qb.a": "first"})
    finally:
        files.PARQUET_SETTINGS.clear()
        files.PARQUET_SETTINGS.update(original[0])
        files._THREADED_HASH_BYTES = original[1]
    pq.write_table(table.replace_schema_metadata({k.encode(): v.encode() for k, v in sorted(meta.items())}),
                   folder / "theirs.parquet", **settings_)
    ours, theirs = (folder / "ours.parquet").read_bytes(), (folder / "theirs.parquet").read_bytes()
    assert ours == theirs
    assert got == hashlib.sha256(ours).hexdigest()
    assert pq.read_schema(folder / "ours.parquet").metadata[b"qb.a"] == b"first"


def test_overlapped_publish_equals_the_one_thread_publish(tmp_path, monkeypatch):
    t = candles(100)
    plain = _publish(Store(tmp_path / "a"), t)
    monkeypatch.setattr(store_module, "_OVERLAP_MIN_ROWS", 0)
    s = Store(tmp_path / "b")
    over = _publish(s, t)
    assert not over.deduped
    assert over.artifact_id == plain.artifact_id and over.artifact.content_hash == plain.artifact.content_hash
    assert over.artifact.file_hash == plain.artifact.file_hash
    assert Path(over.artifact.path_parquet).read_bytes() == Path(plain.artifact.path_parquet).read_bytes()
    assert hashlib.sha256(Path(over.artifact.path_parquet).read_bytes()).hexdigest() == over.artifact.file_hash
    meta = pq.read_schema(over.artifact.path_parquet).metadata
    assert meta[b"qb.artifact_id"] == over.artifact_id.encode()
    assert meta[b"qb.content_hash"] == over.artifact.content_hash.encode()
    assert _staging(s) == []


def test_republish_dedupes_and_leaves_no_staging_file(store, overlap):
    first = _publish(store, candles(60))
    again = _publish(store, candles(60))
    assert again.deduped and again.mode == "content_hash" and again.artifact_id == first.artifact_id
    assert _staging(store) == []
    assert len(store.list().items) == 1


def test_republish_after_gc_restores_the_files(store, overlap):
    first = _publish(store, candles(30))
    store.files.delete(first.artifact.path_parquet)
    again = _publish(store, candles(30))
    assert again.deduped and store.files.exists(again.artifact.path_parquet)
    assert store.files.sha256(again.artifact.path_parquet) == again.artifact.file_hash
    assert _staging(store) == []


def test_deferred_rule_failure_names_the_csv_line_and_writes_nothing(store, overlap, tmp_path):
    rows = candles(40)
    high = rows.column("high").to_pylist()
    high[23] = rows.column("low")[23].as_py() - 1  # high below everything, rows in canonical order
    bad = rows.set_column(rows.schema.get_field_index("high"), "high", pa.array(high))
    csv = tmp_path / "bad.csv"
    import pyarrow.csv as pcsv

    pcsv.write_csv(bad, csv)
    with pytest.raises(ValidationFailed) as err:
        _publish(store, csv, key="token=A/res=1m")
    assert err.value.data["rule"] == "high_ge_open_close" and err.value.data["row"] == 23
    assert err.value.data["line"] == 25 and "line 25" in str(err.value)
    assert store.list().items == [] and _staging(store) == []
    assert list(store.files.list_keys()) == []


def test_deferred_unique_failure_is_the_one_thread_error(tmp_path, monkeypatch):
    t = candles(20)
    dup = pa.concat_tables([t.slice(0, 11), t.slice(10, 10)])  # row 11 repeats row 10, in order
    errors = []
    for name, threshold in (("plain", 10**9), ("overlap", 0)):
        monkeypatch.setattr(store_module, "_OVERLAP_MIN_ROWS", threshold)
        s = Store(tmp_path / name)
        with pytest.raises(ValidationFailed) as err:
            _publish(s, dup, key="token=A/res=1m")
        errors.append((err.value.message, err.value.data))
        assert s.list().items == [] and _staging(s) == []
    assert errors[0] == errors[1] and errors[0][1]["rule"] == "unique" and errors[0][1]["row"] == 11


def test_cancel_during_the_write_leaves_nothing(store, overlap, monkeypatch):
    job = Job()
    calls = []
    real = files.write_parquet

    def write_then_cancel(*a, between_row_groups=None, **kw):
        def between():
            calls.append(1)
            if len(calls) == 3:
                job.cancel()
            between_row_groups()

        return real(*a, between_row_groups=between, **kw)

    monkeypatch.setattr(files, "write_parquet", write_then_cancel)
    with pytest.raises(Cancelled):
        _publish(store, candles(60), job=job)
    assert len(calls) == 3  # stopped at the third row group of nine
    assert store.list().items == [] and _staging(store) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("qb-file-hash")]  # the hasher ended too


def test_a_refused_write_while_hashing_is_one_storage_error(tmp_path):
    """The file-size limit hits the overlapped write (in a child with `ulimit -f`): StorageError
    naming the staging file, and the lake as it was."""
    import subprocess
    import sys

    from tests.store.test_storage_errors import LIMIT, _big_csv, _clean, _env, _limited

    lake = tmp_path / "lake"
    Store(lake).close()
    csv = _big_csv(tmp_path / "big.csv")
    code = (
        "import sys\n"
        "from bridge.errors import StorageError\n"
        "from bridge.store import Store, store\n"
        "store._OVERLAP_MIN_ROWS = 0\n"
        "from bridge.store import files\n"
        "files._THREADED_HASH_BYTES = -1\n"
        f"s = Store({str(lake)!r})\n"
        "try:\n"
        f"    s.publish('ohlcv_slice', 2, 'token=A/res=1s', {str(csv)!r}, writer_name='w', writer_version='1',"
        " git_commit='c')\n"
        "except StorageError as exc:\n"
        "    print('STORAGE', exc.data.get('path'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(),
                         preexec_fn=_limited(LIMIT), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("STORAGE ") and "staging" in out.stdout, out.stdout
    _clean(lake)


@pytest.mark.parametrize("in_order", [True, False])
def test_an_infinity_names_its_input_row_and_csv_line_in_order_or_not(store, overlap, tmp_path, in_order):
    """The finite check runs beside the hash for rows in order, before the sort otherwise: the
    row and line are the input's either way, and nothing is written."""
    import pyarrow.csv as pcsv

    t = candles(30)
    if not in_order:
        t = t.take(pa.array(list(range(29, -1, -1))))
    close = t.column("close").to_pylist()
    close[17] = float("inf")  # (a CSV "nan" reads as null: refused as such)
    csv = tmp_path / "nan.csv"
    pcsv.write_csv(t.set_column(t.schema.get_field_index("close"), "close", pa.array(close)), csv)
    with pytest.raises(ValidationFailed) as err:
        _publish(store, csv, key="token=A/res=1m")
    assert err.value.data["rule"] == "finite" and err.value.data["column"] == "close"
    assert err.value.data["row"] == 17 and err.value.data["line"] == 19
    assert store.list().items == [] and _staging(store) == []


_KEYS = st.lists(st.tuples(st.sampled_from(["a", "b", "é", "ab"]), st.integers(0, 3)), min_size=2, max_size=30)


@settings(max_examples=60, deadline=None)
@given(rows=_KEYS, split=st.integers(1, 8))
def test_the_order_check_in_two_halves_is_the_plain_check(rows, split):
    """Checked as two halves on two threads (from `split` rows), the answer is Python's `sorted`'s,
    whichever pair breaks the order, the one at the halves' seam included."""
    from bridge.store import canonical

    table = pa.table({"s": [r[0] for r in rows], "i": pa.array([r[1] for r in rows], pa.int64())})
    original = canonical._SPLIT_ROWS
    canonical._SPLIT_ROWS = split
    try:
        got = canonical._is_sorted(table, ["s", "i"])
    finally:
        canonical._SPLIT_ROWS = original
    assert got == (rows == sorted(rows))


_RUNS = st.lists(st.tuples(st.sampled_from(["a", "b", "é", "ab", ""]), st.integers(1, 30)), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(runs=_RUNS, swap=st.none() | st.tuples(st.integers(0, 200), st.integers(0, 200)))
def test_the_order_check_of_string_runs_is_pythons(runs, swap):
    """Long runs of equal strings (the case compared for equality first), maybe with two rows
    swapped: the answer is Python's `sorted`'s."""
    from bridge.store import canonical

    rows = [(s, i) for s, n in runs for i in range(n)]
    if swap is not None:
        i, j = swap[0] % len(rows), swap[1] % len(rows)
        rows[i], rows[j] = rows[j], rows[i]
    table = pa.table({"s": [r[0] for r in rows], "i": pa.array([r[1] for r in rows], pa.int64())})
    assert canonical._is_sorted(table, ["s", "i"]) == (rows == sorted(rows))


def test_a_publish_of_csv_rows_does_not_import_pandas(tmp_path):
    """pyarrow's `to_numpy` and every Python value turned into Arrow import pandas on first use:
    0.3-0.5 s of a fresh process's publish, holding the GIL the writer's thread needs. The
    publish path (in order or not, overlapped, order check in halves, key columns checked
    against the logical key or filled from it) uses neither."""
    import subprocess
    import sys

    import pyarrow.csv as pcsv

    t = candles(50, with_token=True)
    pcsv.write_csv(t, tmp_path / "in_order.csv")
    pcsv.write_csv(t.take(pa.array(list(range(49, -1, -1)))), tmp_path / "reversed.csv")
    pcsv.write_csv(candles(50), tmp_path / "key_columns_from_the_key.csv")
    code = (
        "import sys\n"
        "from bridge.store import Store, canonical, files, store\n"
        "store._OVERLAP_MIN_ROWS = 0; files._THREADED_HASH_BYTES = -1; canonical._SPLIT_ROWS = 1\n"
        f"s = Store({str(tmp_path / 'lake')!r})\n"
        "for i, name in enumerate(['in_order.csv', 'reversed.csv', 'key_columns_from_the_key.csv']):\n"
        f"    r = s.publish('ohlcv_slice', 2, f'token=ABC/res=1m/{{i}}', {str(tmp_path)!r} + '/' + name,"
        " writer_name='w', writer_version='1', git_commit='c', git_dirty=False)\n"
        "    assert not r.deduped and r.artifact.row_count == 50\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pandas')[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
