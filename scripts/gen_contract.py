"""Generate the cross-language contract from the method declarations (bridge.api.METHODS).

    .venv/bin/python scripts/gen_contract.py            write schemas/
    .venv/bin/python scripts/gen_contract.py --check    exit 1 if schemas/ differs (CI drift check)

Writes, for every method, schemas/<method>.params.json and schemas/<method>.result.json (JSON
Schema 2020-12, each self-contained with the $defs it needs; our objects say
additionalProperties: false), schemas/openrpc.json (an OpenRPC 1.3 document of the whole API,
with error codes) and schemas/errors.json (the code table). The TypeScript types are generated
from these files by ts-client/scripts/gen-types.mjs. It also writes bridge/api/_index.py, the
daemon's method index (method name → declaring module), so the daemon imports a method's module
only when the method is first called.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bridge import __version__  # noqa: E402
from bridge.api import METHODS, PROTOCOL_VERSION, declaring_modules  # noqa: E402
from bridge.api.errors import CANCELLED, ERROR_TABLE, SERVER_SHUTTING_DOWN, UNSUPPORTED_PROTOCOL_VERSION  # noqa: E402

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS = REPO / "schemas"
INDEX = REPO / "bridge" / "api" / "_index.py"

STANDARD_ERRORS = [
    (-32700, "ParseError", "the line is not valid JSON (or not UTF-8, or has NaN/Infinity, or nests too deep)"),
    (-32600, "InvalidRequest", "not a JSON-RPC 2.0 request (jsonrpc, method, params shape, empty batch, line too long)"),
    (-32601, "MethodNotFound", "no such method; initialize's capabilities.methods lists them"),
    (-32602, "InvalidParams", "params do not match the method's schema; data.detail names the path"),
    (-32603, "InternalError", "an unexpected failure; the daemon's stderr log has the traceback"),
    (UNSUPPORTED_PROTOCOL_VERSION, "UnsupportedProtocolVersion", "initialize asked for a protocol version this daemon does not speak; data lists both"),
    (SERVER_SHUTTING_DOWN, "ServerShuttingDown", "a request after shutdown; send the exit notification"),
]


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out.add(ref[len("#/$defs/"):])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def _closure(schema: dict, components: dict) -> dict:
    need: set[str] = set()
    _refs(schema, need)
    done: set[str] = set()
    while need - done:
        name = sorted(need - done)[0]
        done.add(name)
        _refs(components[name], need)
    return {k: components[k] for k in sorted(done)}


def _doc(schema: dict, title: str, components: dict, description: str = "") -> dict:
    out = {"$schema": DRAFT, "title": title}
    if description:
        out["description"] = description
    out.update(schema)
    defs = _closure(schema, components)
    if defs:
        out["$defs"] = defs
    return out


def build() -> dict[str, Any]:
    """{relative path: JSON document} for everything under schemas/."""
    types: list[Any] = []
    for m in METHODS:
        types += [m.params, m.result]
    schemas, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    files: dict[str, Any] = {}
    methods = []
    errors_by_class = {cls: (code, name, doc) for cls, code, name, doc in ERROR_TABLE}
    for i, m in enumerate(METHODS):
        p_schema, r_schema = schemas[2 * i], schemas[2 * i + 1]
        files[f"{m.name}.params.json"] = _doc(p_schema, f"{m.name} params", components)
        files[f"{m.name}.result.json"] = _doc(r_schema, f"{m.name} result", components)
        methods.append(_openrpc_method(m, p_schema, r_schema, components, errors_by_class))
    openrpc_components = {k: _to_openrpc_refs(v) for k, v in sorted(components.items())}
    files["openrpc.json"] = {
        "openrpc": "1.3.2",
        "info": {"title": "QuantBot Research Bridge", "version": __version__,
                 "description": f"JSON-RPC 2.0 over newline-delimited stdio (`python -m bridge serve`). "
                                f"Protocol version {PROTOCOL_VERSION}. See docs/protocol.md."},
        "x-protocolVersion": PROTOCOL_VERSION,
        "methods": methods,
        "components": {"schemas": openrpc_components, "errors": {name: {"code": code, "message": name}
                                                                for code, name, _ in _all_errors()}},
    }
    files["errors.json"] = {"errors": [{"code": code, "name": name, "message": name, "doc": doc}
                                       for code, name, doc in _all_errors()]}
    return files


def index_source() -> str:
    """bridge/api/_index.py: every method's declaring module, in contract order."""
    rows = "".join(f"    {json.dumps(name)}: {json.dumps(module)},\n" for name, module in declaring_modules().items())
    return ('"""The daemon\'s method index: method name -> the bridge.api module declaring it. Generated by\n'
            'scripts/gen_contract.py from the declarations; do not edit (tests check it for drift)."""\n\n'
            f"INDEX: dict[str, str] = {{\n{rows}}}\n")


def _all_errors() -> list[tuple[int, str, str]]:
    seen, out = set(), []
    for code, name, doc in [*STANDARD_ERRORS, *[(c, n, d) for _, c, n, d in ERROR_TABLE]]:
        if code not in seen:
            seen.add(code)
            out.append((code, name, doc))
    return sorted(out, key=lambda e: e[0])


def _to_openrpc_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" and isinstance(v, str)
                    else _to_openrpc_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_openrpc_refs(v) for v in node]
    return node


def _openrpc_method(m, p_schema, r_schema, components, errors_by_class) -> dict:
    params_def = components[p_schema["$ref"].split("/")[-1]] if "$ref" in p_schema else p_schema
    required = set(params_def.get("required", []))
    params = [{"name": name, "required": name in required, "schema": _to_openrpc_refs(schema)}
              for name, schema in params_def.get("properties", {}).items()]
    errs = []
    for cls in m.errors:
        hit = next(((code, name) for c, (code, name, _) in errors_by_class.items() if issubclass(cls, c)), None)
        if hit is None and getattr(cls, "rpc_code", None) is not None:
            hit = (cls.rpc_code, cls.__name__)
        if hit and hit[0] not in [e["code"] for e in errs]:
            errs.append({"code": hit[0], "message": hit[1]})
    if m.long_running and CANCELLED not in [e["code"] for e in errs]:
        errs.append({"code": CANCELLED, "message": "RequestCancelled"})
    return {
        "name": m.name,
        "summary": m.doc.split(". ")[0].rstrip(".") if m.doc else m.name,
        "description": m.doc,
        "paramStructure": "by-name",
        "params": params,
        "result": {"name": f"{m.name}Result", "schema": _to_openrpc_refs(r_schema)},
        "errors": errs,
        "x-longRunning": m.long_running,
    }


def normalize(node: Any) -> Any:
    """The generated documents depend only on our declarations, never on a library's rendering.

    Every ``description`` goes through ``inspect.cleandoc`` (msgspec 0.22 keeps a docstring's
    indentation, 0.23 strips it), trailing white space is dropped from every line, and the
    ``required`` lists and ``anyOf`` members are sorted (their order carries no meaning; msgspec
    0.19 puts ``null`` first, later versions last). Key order is ours: the order of a Struct's
    fields, and of the keys this script writes.
    """
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "description" and isinstance(v, str):
                v = "\n".join(line.rstrip() for line in inspect.cleandoc(v).splitlines())
            elif k == "required" and isinstance(v, list) and all(isinstance(x, str) for x in v):
                v = sorted(v)
            elif k == "anyOf" and isinstance(v, list):
                v = sorted(v, key=_member_order)
            out[k] = normalize(v)
        return out
    if isinstance(node, list):
        return [normalize(v) for v in node]
    return node


def _member_order(schema: Any) -> tuple[bool, str]:
    """``anyOf`` order: ``null`` last, the rest by their canonical JSON."""
    return (schema == {"type": "null"}, json.dumps(schema, sort_keys=True))


def render(doc: Any) -> str:
    return json.dumps(normalize(doc), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail if schemas/ differs from a fresh generation")
    ap.add_argument("--out", type=Path, default=SCHEMAS)
    args = ap.parse_args()
    files = build()
    if args.check:
        drift = [name for name, doc in files.items()
                 if not (args.out / name).is_file() or (args.out / name).read_text(encoding="utf-8") != render(doc)]
        extra = sorted(p.name for p in args.out.glob("*.json") if p.name not in files)
        if args.out == SCHEMAS and INDEX.read_text(encoding="utf-8") != index_source():
            drift.append(str(INDEX.relative_to(REPO)))
        if drift or extra:
            print(f"schemas/ is out of date (changed: {drift}, stale: {extra}); run scripts/gen_contract.py",
                  file=sys.stderr)
            return 1
        print(f"schemas/ up to date ({len(files)} files)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, doc in files.items():
        (args.out / name).write_text(render(doc), encoding="utf-8")
    print(f"wrote {len(files)} files to {args.out}")
    if args.out == SCHEMAS:
        INDEX.write_text(index_source(), encoding="utf-8")
        print(f"wrote {INDEX.relative_to(REPO)}")
    return _typescript(args.out)


def _typescript(schemas: Path) -> int:
    """Regenerate the TypeScript types from the new schemas, so both sides change together."""
    import shutil
    import subprocess

    gen = REPO / "ts-client" / "scripts" / "gen-types.mjs"
    if schemas != SCHEMAS or not gen.is_file():
        return 0
    if shutil.which("node") is None or not (REPO / "ts-client" / "node_modules").is_dir():
        print("note: node or ts-client/node_modules missing; run `npm run gen` in ts-client", file=sys.stderr)
        return 0
    return subprocess.run(["node", str(gen)], cwd=REPO / "ts-client").returncode


if __name__ == "__main__":
    sys.exit(main())
