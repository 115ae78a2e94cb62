"""The content hash is a function of the logical rows only (hypothesis), and of every value."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.store.canonical import canonicalize, content_hash, load_input
from bridge.store.spec import get_spec

ALERTS = get_spec("alerts", 1)
OHLCV = get_spec("ohlcv_slice", 2)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def h(table, spec=ALERTS, key=""):
    return content_hash(canonicalize(table, spec, key), spec)


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
alert_row = st.fixed_dictionaries({
    "alert_ts": st.integers(0, 10**6).map(lambda s: T0 + timedelta(seconds=s)),
    "token_address": text,
    "chain": st.sampled_from(["solana", "ethereum", "base"]),
    "caller": st.none() | text,
    "source": st.none() | text,
    "text": st.none() | text,
})
alert_rows = st.lists(alert_row, min_size=0, max_size=30).map(
    lambda rows: [{"alert_id": f"a{i}", **r} for i, r in enumerate(rows)]
)


def to_table(rows):
    schema = pa.schema([("alert_id", pa.string()), ("alert_ts", pa.timestamp("us", tz="UTC")),
                        ("token_address", pa.string()), ("chain", pa.string()), ("caller", pa.string()),
                        ("source", pa.string()), ("text", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=alert_rows, seed=st.integers(0, 2**32 - 1), rg=st.integers(1, 7),
       codec=st.sampled_from(["snappy", "zstd", "none", "gzip"]), dictionary=st.booleans())
def test_hash_ignores_order_format_encoding_and_chunking(rows, seed, rg, codec, dictionary):
    base = h(to_table(rows))
    rnd = random.Random(seed)
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    t = to_table(shuffled)
    cols = t.column_names[:]
    rnd.shuffle(cols)
    t = t.select(cols)
    assert h(t) == base
    buf = io.BytesIO()
    pq.write_table(t, buf, compression=codec, row_group_size=rg, use_dictionary=dictionary)
    assert h(pq.read_table(io.BytesIO(buf.getvalue()))) == base
    # Chunked arrays in many pieces
    assert h(pa.concat_tables([t.slice(i, 3) for i in range(0, max(len(rows), 1), 3)]) if rows else t) == base
    # Inline rows with timestamps spelled as text, some with offsets
    spelled = [{**r, "alert_ts": (r["alert_ts"].astimezone(timezone(timedelta(hours=2))).isoformat()
                                  if i % 2 else r["alert_ts"].strftime("%Y-%m-%dT%H:%M:%SZ"))}
               for i, r in enumerate(shuffled)]
    if spelled:
        assert h(load_input(spelled, ALERTS)) == base


@settings(max_examples=60, deadline=None)
@given(rows=alert_rows.filter(bool), data=st.data())
def test_any_changed_value_changes_the_hash(rows, data):
    base = h(to_table(rows))
    i = data.draw(st.integers(0, len(rows) - 1))
    col = data.draw(st.sampled_from(["alert_ts", "token_address", "chain", "caller", "text"]))
    changed = [dict(r) for r in rows]
    old = changed[i][col]
    if col == "alert_ts":
        changed[i][col] = old + timedelta(microseconds=1)
    elif col == "chain":
        changed[i][col] = "bsc"
    elif old is None:
        changed[i][col] = ""  # null and empty string differ
    else:
        changed[i][col] = old + "x"
    assert h(to_table(changed)) != base


def test_null_vs_empty_and_string_boundaries_differ():
    a = [{"alert_id": "1", "alert_ts": T0, "token_address": "ab", "chain": "c", "caller": "", "source": None, "text": None}]
    b = [{**a[0], "caller": None}]
    c = [{**a[0], "token_address": "a", "chain": "bc"}]  # same concatenated bytes, different split
    assert len({h(to_table(a)), h(to_table(b)), h(to_table(c))}) == 3


def test_row_count_and_duplicates_matter():
    t = to_table([{"alert_id": "1", "alert_ts": T0, "token_address": "x", "chain": "c", "caller": None,
                   "source": None, "text": None}])
    spec = get_spec("experiment_equity_curve", 1)  # no unique key: duplicate rows allowed
    e = pa.table({"experiment_id": ["e"], "ts": pa.array([T0], pa.timestamp("us", tz="UTC")), "equity": [1.0],
                  "drawdown": [0.0], "drawdown_pct": [0.0]})
    assert h(e, spec) != h(pa.concat_tables([e, e]), spec)
    assert h(t) != h(t.slice(0, 0))


def test_csv_and_parquet_of_the_same_candles_hash_equal():
    rows = "ts,open,high,low,close,volume\n2026-01-26T00:00:00Z,1.5,2,1,1.25,10\n2026-01-26 00:01:00,1.25,1.5,1,1.5,0\n"
    t_csv = pcsv.read_csv(io.BytesIO(rows.encode()), convert_options=pcsv.ConvertOptions(
        column_types={"ts": pa.string()}))
    key = "token=T/res=1m"
    from_csv = h(t_csv, OHLCV, key)
    d = datetime(2026, 1, 26, tzinfo=timezone.utc)
    t = pa.table({"ts": pa.array([d, d + timedelta(minutes=1)], pa.timestamp("ms", tz="UTC")),
                  "open": [1.5, 1.25], "high": [2, 1.5], "low": [1, 1], "close": [1.25, 1.5], "volume": [10, 0],
                  "token": ["T", "T"], "resolution": ["1m", "1m"]})
    assert h(t, OHLCV, key) == from_csv


def test_negative_zero_hashes_as_zero():
    mk = lambda v: pa.table({"experiment_id": ["e"], "ts": pa.array([T0], pa.timestamp("us", tz="UTC")),
                             "equity": [1.0], "drawdown": [v], "drawdown_pct": [0.0]})
    spec = get_spec("experiment_equity_curve", 1)
    assert h(mk(0.0), spec) == h(mk(-0.0), spec)
