"""The content hash is the one docs/canonical-form.md §3 defines: a per-row reference written from
that page agrees with `content_hash` on any table (hypothesis: every logical type, nulls, -0.0,
chunked and sliced arrays), and fixed tables keep the hex values they had before the hasher was
made faster (the content hash is part of every artifact's identity)."""

from __future__ import annotations

import hashlib
import json
import struct

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.store.canonical import arrow_schema, canonicalize, content_hash
from bridge.store.spec import ArtifactSpec, C, get_spec

from .samples import OHLCV_KEY, candles

SPEC = ArtifactSpec(
    artifact_type="hash_reference", schema_version=3,
    columns=(C("s", "string"), C("sn", "string", nullable=True), C("i", "int64", nullable=True),
             C("f", "float64", nullable=True), C("b", "bool"), C("bn", "bool", nullable=True),
             C("t", "timestamp", nullable=True)),
    sort_key=("s",),
)


def reference_hash(rows: list[dict], spec: ArtifactSpec) -> str:
    """docs/canonical-form.md §3, one row at a time, from Python values."""
    digests = b""
    for col in spec.columns:
        values = [r[col.name] for r in rows]
        v = bytes(0 if x is None else 1 for x in values) if col.nullable else b""
        if col.type == "string":
            x = b"".join(struct.pack("<Q", len((s or "").encode("utf-8"))) for s in values)
            x += b"".join((s or "").encode("utf-8") for s in values)
        elif col.type == "bool":
            x = bytes(1 if b else 0 for b in values)
        elif col.type == "float64":
            x = b"".join(struct.pack("<d", 0.0 if f is None or f == 0 else f) for f in values)
        else:  # int64, and timestamp as microseconds since the epoch
            x = b"".join(struct.pack("<q", n or 0) for n in values)
        digests += hashlib.sha256(v + x).digest()
    header = {"form": "qb-content-v1", "artifact_type": spec.artifact_type, "schema_version": spec.schema_version,
              "columns": [[c.name, c.type, c.nullable] for c in spec.columns], "rows": len(rows)}
    return hashlib.sha256(json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8") + digests).hexdigest()


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
finite = st.floats(allow_nan=False, allow_infinity=False)
row = st.fixed_dictionaries({
    "s": text, "sn": st.none() | text, "i": st.none() | st.integers(-2**63, 2**63 - 1), "f": st.none() | finite,
    "b": st.booleans(), "bn": st.none() | st.booleans(), "t": st.none() | st.integers(-2**62, 2**62),
})


def _table(rows: list[dict], cuts: list[int]) -> pa.Table:
    """The rows as a table whose columns are chunked at `cuts`, each chunk a slice (non-zero offset)."""
    schema = arrow_schema(SPEC)
    whole = pa.Table.from_pylist([{**r, "t": r["t"]} for r in rows], schema=pa.schema(
        [f.with_type(pa.int64()) if f.name == "t" else f for f in schema]))
    whole = whole.set_column(6, schema.field("t"), whole.column("t").cast(schema.field("t").type))
    bounds = sorted({0, len(rows), *(c % (len(rows) + 1) for c in cuts)})
    return pa.concat_tables([whole.slice(a, b - a) for a, b in zip(bounds, bounds[1:])] or [whole])


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(row, max_size=25), cuts=st.lists(st.integers(0, 30), max_size=3), threads=st.sampled_from([1, 2]))
def test_content_hash_is_the_documented_form(rows, cuts, threads):
    table = _table(rows, cuts)
    assert content_hash(table, SPEC, threads=threads) == reference_hash(rows, SPEC)


def test_negative_zero_and_nulls_follow_the_documented_form():
    rows = [{"s": "a", "sn": None, "i": None, "f": -0.0, "b": False, "bn": None, "t": None},
            {"s": "b", "sn": "", "i": 0, "f": None, "b": True, "bn": True, "t": 0}]
    assert content_hash(_table(rows, []), SPEC) == reference_hash(rows, SPEC)


# Pinned: the values these tables hashed to before the hasher's rewrite (commit 1bbeaea).
PINNED = {
    "ohlcv": "1903333672b76667e6ef1439ac578e1286dc418ec556b96482cc9beae5ae1b8b",
    "all_types": "bd4025eb2438888adaf720a805ee041f53028de5b2eb3df5b5e6acb837edfa78",
}


def test_fixed_tables_keep_their_content_hash():
    ohlcv = get_spec("ohlcv_slice", 2)
    got = {"ohlcv": content_hash(canonicalize(candles(3000), ohlcv, OHLCV_KEY), ohlcv, threads=1)}
    rows = [{"s": f"k{i:03d}", "sn": None if i % 3 else f"é{i}", "i": None if i % 5 == 0 else i * -7,
             "f": None if i % 7 == 0 else i / 3 - 5, "b": i % 2 == 0, "bn": None if i % 4 == 0 else i % 3 == 0,
             "t": None if i % 6 == 0 else i * 60_000_000} for i in range(200)]
    got["all_types"] = content_hash(_table(rows, [17, 150]), SPEC)
    assert got == PINNED


sort_row = st.tuples(st.sampled_from(["", "a", "é", "ab", "b"]), st.integers(-2**63, 2**63 - 1) | st.integers(-3, 3),
                     st.integers(-2**40, 2**40), st.booleans())


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(sort_row, min_size=2, max_size=30), cuts=st.lists(st.integers(0, 30), max_size=3))
def test_the_packed_sort_key_orders_rows_as_python_does(rows, cuts):
    """The uint64 key packed a chunk at a time (string ranks, integer and timestamp offsets, bools)
    sorts the rows as Python sorts the tuples (strings by code point = UTF-8 byte order); when
    the ranges do not fit in 64 bits there is no key and the general sort takes over."""
    import numpy as np

    from bridge.store import canonical

    whole = pa.table({"s": [r[0] for r in rows], "i": pa.array([r[1] for r in rows], pa.int64()),
                      "t": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")), "b": [r[3] for r in rows]})
    bounds = sorted({0, len(rows), *(c % (len(rows) + 1) for c in cuts)})
    table = pa.concat_tables([whole.slice(a, b - a) for a, b in zip(bounds, bounds[1:])])
    key = canonical._composite_key(table, ["s", "i", "t", "b"])
    spans = [max(r[k] for r in rows) - min(r[k] for r in rows) for k in (1, 2)]
    bits = (len({r[0] for r in rows}) - 1).bit_length() + sum(x.bit_length() for x in spans) + any(r[3] for r in rows)
    assert (key is None) == (bits > 64)
    if key is not None:
        assert [rows[i] for i in np.argsort(key, kind="stable")] == sorted(rows)
    spec = ArtifactSpec("sort_reference", 1, columns=(C("s", "string"), C("i", "int64"),
                        C("t", "timestamp"), C("b", "bool")), sort_key=("s", "i", "t", "b"))
    order = canonical._canonical_order(table, spec)  # the packed key or, past 64 bits, Arrow's sort of ranks
    out = table if order is None else table.take(order)
    assert [(r["s"], r["i"], r["t"], r["b"]) for r in out.cast(whole.schema.set(2, pa.field("t", pa.int64()))).to_pylist()] \
        == sorted(rows)
