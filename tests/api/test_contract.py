"""Contract tests: schemas/ is what the declarations generate; every method, fed params generated
from its own schema, answers with a result valid against its result schema (or a documented
application error); params that break the schema get -32602."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from bridge.api import METHODS
from bridge.api.errors import APP_ERRORS
from tests.daemon import REPO

SCHEMAS = REPO / "schemas"
APP_CODES = set(APP_ERRORS.values()) | {10, 11}
# Methods whose generated params could point outside the test's folder or start heavy work:
# their string fields naming places are redirected below, and lifecycle is tested elsewhere.
SKIP = {"shutdown"}


def load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def test_schemas_match_the_declarations():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_contract.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _msgspec_bounds() -> list[str]:
    """The oldest version pyproject.toml allows for msgspec, and the locked (newest tested) one."""
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    floor = re.search(r"msgspec>=([0-9.]+)", " ".join(deps))[1]
    locked = re.search(r"^msgspec==([0-9.]+)", (REPO / "requirements.lock").read_text(encoding="utf-8"), re.M)[1]
    return sorted({floor if floor.count(".") == 2 else floor + ".0", locked})


@pytest.mark.slow
@pytest.mark.parametrize("version", _msgspec_bounds())
def test_schemas_are_byte_identical_under_the_oldest_and_newest_allowed_msgspec(version, tmp_path):
    """msgspec 0.19 orders anyOf with null first, 0.23 strips docstring indentation: the generator
    normalises both, so every allowed version gives the committed bytes."""
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                          "--target", str(target), f"msgspec=={version}"], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    code = "import msgspec, runpy, sys; print(msgspec.__version__, file=sys.stderr); sys.argv = ['gen', '--check']; " \
           f"runpy.run_path({str(REPO / 'scripts' / 'gen_contract.py')!r}, run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(target)})
    assert proc.stderr.startswith(version), proc.stderr
    assert proc.returncode == 0 and "up to date" in proc.stdout, proc.stderr


def test_the_normaliser_gives_one_rendering_for_every_library_style():
    sys.path.insert(0, str(REPO / "scripts"))
    from gen_contract import render

    indented = {"description": "Where candles live.\n    (default: chDB).  ", "required": ["b", "a"],
                "anyOf": [{"type": "null"}, {"$ref": "#/$defs/X"}]}
    stripped = {"description": "Where candles live.\n(default: chDB).", "required": ["a", "b"],
                "anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}]}
    assert render(indented) == render(stripped)
    assert json.loads(render(stripped))["anyOf"][-1] == {"type": "null"}


def test_every_method_is_in_openrpc_with_codes():
    doc = load("openrpc.json")
    assert [m["name"] for m in doc["methods"]] == [m.name for m in METHODS]
    for m in doc["methods"]:
        for err in m["errors"]:
            assert err["code"] in APP_CODES | {-32800}
    jsonschema.Draft202012Validator.check_schema(load("getArtifact.result.json"))


def test_every_schema_file_is_valid_json_schema_2020_12():
    files = sorted(p for p in SCHEMAS.glob("*.json") if p.name not in ("openrpc.json", "errors.json"))
    assert len(files) == 2 * len(METHODS)
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        jsonschema.Draft202012Validator.check_schema(doc)


def test_openrpc_error_codes_match_the_code_table():
    table = {e["code"]: e["name"] for e in load("errors.json")["errors"]}
    assert len(table) == len(load("errors.json")["errors"])  # codes are unique
    for m in load("openrpc.json")["methods"]:
        for err in m["errors"]:
            assert table.get(err["code"]) is not None, (m["name"], err)


def test_objects_forbid_unknown_keys():
    for path in SCHEMAS.glob("*.json"):
        doc = json.loads(path.read_text())
        for name, schema in doc.get("$defs", {}).items():
            if schema.get("type") == "object" and "properties" in schema:
                assert schema.get("additionalProperties") is False, (path.name, name)


def test_no_struct_is_a_hand_copy_of_another():
    """One type per concept: no two msgspec Structs of the bridge declare the same three or more
    fields, unless one is the other's subclass (a schema name for the same type, like
    ArtifactLineage). A wire copy of a domain result would show up here."""
    import importlib
    import pkgutil

    import msgspec

    import bridge

    for info in pkgutil.walk_packages(bridge.__path__, "bridge."):
        if info.name != "bridge.__main__":
            importlib.import_module(info.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    by_fields: dict[frozenset, list[type]] = {}
    for cls in set(subclasses(msgspec.Struct)):
        if cls.__module__.startswith("bridge.") and len(cls.__struct_fields__) >= 3:
            by_fields.setdefault(frozenset(cls.__struct_fields__), []).append(cls)
    copies = [sorted(f"{c.__module__}.{c.__qualname__}" for c in group) for group in by_fields.values()
              if len(group) > 1 and not any(issubclass(a, b) or issubclass(b, a)
                                            for a in group for b in group if a is not b)]
    assert copies == []


PLACE_WORDS = {"path", "paths", "dir", "directory", "output", "out", "file", "files", "folder"}


def _words(key: str) -> set[str]:
    return set(re.findall(r"[a-z]+", re.sub(r"([A-Z])", r" \1", key).lower()))


def _safe(value, root: Path):
    """Point strings that name places (…Path, …Dir, output, dsn) inside the test folder."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            words = _words(k)
            if "dsn" in words and isinstance(v, str):
                v = f"chdb://{root / 'chdb'}"
            elif words & PLACE_WORDS and isinstance(v, str):
                v = str(root / "x" / "nope")
            elif words & PLACE_WORDS and isinstance(v, list) and all(isinstance(x, str) for x in v):
                v = [str(root / "x" / "nope") for _ in v]
            else:
                v = _safe(v, root)
            out[k] = v
        return out
    if isinstance(value, list):
        return [_safe(v, root) for v in value]
    return value


CASES = [m for m in METHODS if m.name not in SKIP]


def _bounded(schema: dict, depth: int = 2) -> dict:
    """The schema with every $ref inlined and recursion (signal groups nest) cut after `depth`
    levels (a deeper nested object is generated as nothing: `{"not": {}}`), because
    hypothesis-jsonschema cannot resolve recursive references. Same values otherwise."""
    defs = schema.get("$defs", {})

    def walk(node, stack):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.rsplit("/", 1)[-1]
                if stack.count(name) >= depth:
                    return {"not": {}}
                return walk(defs[name], stack + [name])
            return {k: walk(v, stack) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v, stack) for v in node]
        return node

    return walk(schema, [])


@pytest.mark.parametrize("method", CASES, ids=[m.name for m in CASES])
def test_schema_generated_params_get_schema_valid_answers(shared_daemon, tmp_path_factory, method):
    params_schema = load(f"{method.name}.params.json")
    result_schema = load(f"{method.name}.result.json")
    validator = jsonschema.Draft202012Validator(result_schema)
    root = tmp_path_factory.mktemp("contract")
    seen = {"ok": 0, "app": 0}

    @settings(max_examples=6, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(from_schema(_bounded(params_schema)))
    def check(params):
        params = _safe(params, root)
        if method.name == "initialize":
            params["protocolVersion"] = "1.0"
        reply = shared_daemon.call(method.name, params, timeout=120)
        if "result" in reply:
            validator.validate(reply["result"])
            seen["ok"] += 1
        else:
            err = reply["error"]
            assert err["code"] in APP_CODES | {-32800}, (params, err)
            assert err["message"] and isinstance(err.get("data"), dict)
            seen["app"] += 1

    check()
    assert seen["ok"] + seen["app"] >= 1


@pytest.mark.parametrize("method", CASES, ids=[m.name for m in CASES])
def test_params_breaking_the_schema_get_minus_32602(shared_daemon, method):
    bad_cases = [{"__unknown__": 1}]
    props = load(f"{method.name}.params.json")
    target = props["$defs"].get(props.get("$ref", "#/$defs/?").split("/")[-1], props)
    for name, schema in target.get("properties", {}).items():
        if schema.get("type") == "string":
            bad_cases.append({name: 12345})
        elif schema.get("type") in ("integer", "boolean", "array"):
            bad_cases.append({name: "not-that-type"})
    for params in bad_cases[:3]:
        err = shared_daemon.call(method.name, params)["error"]
        assert err["code"] == -32602, (params, err)
        assert err["data"]["detail"] and err["data"]["path"] == "$." + next(iter(params)), err


def test_openrpc_document_is_valid_against_the_openrpc_meta_schema():
    """tests/api/data/openrpc-meta-schema-1.14.9.json is the `openrpcDocument` of the npm package
    @open-rpc/meta-schema 1.14.9 (Apache-2.0), unmodified. It points its embedded JSON Schemas at
    a remote meta-schema; here those become 'any schema object' and every embedded schema is
    checked as JSON Schema 2020-12 instead (what our generator emits)."""
    meta = json.loads((Path(__file__).parent / "data" / "openrpc-meta-schema-1.14.9.json").read_text(encoding="utf-8"))

    def offline(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("https://meta.json-schema.tools"):
                return {"type": "string"} if ref.endswith("/$ref") else {"type": ["object", "boolean"]}
            return {k: offline(v) for k, v in node.items()}
        return [offline(v) for v in node] if isinstance(node, list) else node

    meta = offline(meta)
    meta["$schema"] = "http://json-schema.org/draft-07/schema#"
    doc = load("openrpc.json")
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft7Validator(meta).iter_errors(doc)]
    assert not errors, errors[:5]
    embedded = [*doc["components"]["schemas"].values()]
    for m in doc["methods"]:
        embedded += [p["schema"] for p in m["params"]] + [m["result"]["schema"]]
    for schema in embedded:
        jsonschema.Draft202012Validator.check_schema(schema)
