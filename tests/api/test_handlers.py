"""Handlers called in process through the declared Method table (no transport): limits and the
error mapping that the daemon applies."""

from __future__ import annotations

import msgspec
import pytest

from bridge.api import Context, Limits, method_table
from bridge.api.errors import error_for
from bridge.store.lake import Lake

ROW = {"run_id": "r", "metric_name": "m", "metric_value": 1.0, "metric_unit": None, "computed_at": "2026-01-01T00:00:00Z"}


def call(ctx, name, params: dict):
    method = method_table()[name]
    return method.handler(ctx, method.decode_params(msgspec.json.encode(params)))


def test_inline_rows_over_the_limit_are_refused_naming_the_field(tmp_path):
    ctx = Context(Lake(tmp_path / "lake"), limits=Limits.default(max_inline_rows=2))
    params = {"artifactType": "run_metrics", "schemaVersion": 1, "logicalKey": "k", "writerName": "t",
              "writerVersion": "1", "dataFrame": [ROW, {**ROW, "metric_name": "n"}, {**ROW, "metric_name": "o"}]}
    with pytest.raises(Exception) as info:
        call(ctx, "publishDataFrame", params)
    code, message, data = error_for(info.value)
    assert code == 1002 and data["field"] == "dataFrame" and "limit of 2" in message
    assert ctx.store.list().items == []  # nothing published
    res = call(ctx, "publishDataFrame", {**params, "dataFrame": params["dataFrame"][:2]})
    assert res.artifact.row_count == 2


def test_error_data_is_camel_cased_and_typed(tmp_path):
    ctx = Context(Lake(tmp_path / "lake"))
    with pytest.raises(Exception) as info:
        call(ctx, "getArtifact", {"artifactId": "missing"})
    assert error_for(info.value) == (1001, str(info.value), {"artifactId": "missing", "type": "ArtifactNotFound"})


def test_unknown_exceptions_are_not_mapped():
    assert error_for(RuntimeError("secret")) is None  # -> -32603 with a generic message


def test_every_key_of_a_publish_result_is_camel_case_on_the_wire(tmp_path):
    """The sidecar is snake_case on disk but camelCase in the reply; the writer's own tag and
    params keys are left as they are."""
    ctx = Context(Lake(tmp_path / "lake"))
    params = {"artifactType": "run_metrics", "schemaVersion": 1, "logicalKey": "k", "writerName": "t",
              "writerVersion": "1", "dataFrame": [ROW], "tags": {"my_tag": "x"}, "params": {"my_param": 1}}
    wire = msgspec.json.decode(msgspec.json.encode(call(ctx, "publishDataFrame", params)))

    def keys(node, skip=("tags", "params")):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                if k not in skip:
                    yield from keys(v)

    assert wire["sidecar"]["writerName"] == "t" and wire["sidecar"]["inputArtifactIds"] == []
    assert wire["sidecar"]["tags"] == {"my_tag": ["x"]} and wire["sidecar"]["params"] == {"my_param": 1}
    assert [k for k in keys(wire) if "_" in k] == []
