"""The UI server over real HTTP (uvicorn on 127.0.0.1): the token, the Host check against DNS
rebinding, the security headers, read-only-ness, and the SQL console's sandbox and limits."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.errors import NotFound
from bridge.projections import Projections
from bridge.store import Store
from bridge.ui import UiServer
from bridge.ui import views as ui_views
from tests.store.samples import OHLCV_KEY, publish_candles
from tests.ui.helpers import lake_snapshot, request


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    lake = tmp_path_factory.mktemp("ui") / "lake"
    store = Store(lake)
    first = publish_candles(store, n=60)
    second = publish_candles(store, key=OHLCV_KEY.replace("ABC", "XYZ"), n=30, seed=1)
    proj = Projections(store).build({"candles": [first.artifact_id, second.artifact_id]})
    store.close()
    server = UiServer.start(lake, port=0)
    server.ids = [first.artifact_id, second.artifact_id]  # type: ignore[attr-defined]
    server.projection_id = proj.projection_id  # type: ignore[attr-defined]
    yield server
    server.stop()


def auth(ui) -> dict:
    return {"Authorization": f"token {ui.token}"}


def test_binds_loopback_with_a_long_random_token_in_the_url(ui):
    assert ui.url.startswith(f"http://127.0.0.1:{ui.port}/?token=")
    assert len(ui.token) >= 40
    assert UiServer(ui.store, port=0).token != ui.token
    # nothing listens on the other interfaces
    addrs = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    for addr in addrs:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((addr, ui.port)) != 0


@pytest.mark.parametrize("path", ["/", "/api/types", "/api/artifacts", "/static/app.js", "/api/projections",
                                  "/docs/experiments"])
def test_every_path_needs_the_token(ui, path):
    status, headers, body = request(ui.port, "GET", path)
    assert status == 403 and b"token" in body
    assert request(ui.port, "GET", path, headers={"Authorization": "token " + "0" * len(ui.token)})[0] == 403
    assert request(ui.port, "GET", path, headers={"Cookie": f"bridge_ui_{ui.port}=nope"})[0] == 403
    sep = "&" if "?" in path else "?"
    assert request(ui.port, "GET", f"{path}{sep}token=wrong")[0] == 403
    assert request(ui.port, "GET", path, headers=auth(ui))[0] == 200


def test_the_token_in_the_url_sets_a_strict_httponly_cookie_that_then_suffices(ui):
    status, headers, body = request(ui.port, "GET", f"/?token={ui.token}")
    assert status == 200 and b"<main" in body
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"bridge_ui_{ui.port}={ui.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, body = request(ui.port, "GET", "/api/types", headers={"Cookie": cookie.split(";")[0]})
    assert status == 200 and json.loads(body)["types"][0]["artifactType"] == "ohlcv_slice"


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{{port}}", "127.0.0.1:1", "localhost.evil.example",
                                  "", "[::1]:{port}", "0.0.0.0:{port}"])
def test_a_foreign_host_header_is_refused_even_with_the_token(ui, host):
    status, headers, body = request(ui.port, "GET", "/api/types", host=host.format(port=ui.port), headers=auth(ui))
    assert status == 403 and b"Host" in body
    assert "content-security-policy" in headers


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_loopback_host_headers_are_accepted(ui, host):
    assert request(ui.port, "GET", "/api/types", host=host.format(port=ui.port), headers=auth(ui))[0] == 200


@pytest.mark.parametrize("path", ["/", "/api/artifacts", "/static/app.js", "/static/vendor/uPlot.iife.min.js",
                                  "/api/artifacts/nope", "/nope", "/docs/experiments", "/docs/nope"])
def test_every_response_has_a_restrictive_csp_and_no_referrer(ui, path):
    status, headers, _ = request(ui.port, "GET", path, headers=auth(ui))
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "http" not in csp and "frame-ancestors 'none'" in csp
    assert headers["referrer-policy"] == "no-referrer" and headers["x-content-type-options"] == "nosniff"
    assert status in (200, 404)


def test_the_page_loads_nothing_from_outside(ui):
    from importlib import resources

    static = resources.files("bridge.ui").joinpath("static")
    for name in ("index.html", "app.js", "app.css", "vendor/uPlot.min.css"):
        text = static.joinpath(name).read_text(encoding="utf-8")
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text, name
        assert "<style" not in text and " style=" not in text, name
    _, _, body = request(ui.port, "GET", "/", headers=auth(ui))
    assert b"<script>" not in body and b"onclick=" not in body  # no inline script for the CSP to block


@pytest.mark.parametrize("method,path", [("POST", "/api/artifacts"), ("PUT", "/api/artifacts"), ("DELETE", "/api/artifacts/x"),
                                         ("PATCH", "/api/runs"), ("POST", "/"), ("DELETE", "/api/query"),
                                         ("PUT", "/static/app.js")])
def test_no_method_but_get_head_and_the_console_post(ui, method, path):
    status, headers, _ = request(ui.port, method, path, headers=auth(ui), body=b"{}")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_the_sql_console_goes_through_the_sandbox_with_its_limits(ui, monkeypatch):
    def query(sql):
        body = json.dumps({"projectionId": ui.projection_id, "sql": sql}).encode()
        status, _, raw = request(ui.port, "POST", "/api/query", headers={**auth(ui), "Content-Type": "application/json"},
                                 body=body)
        return status, json.loads(raw)

    status, res = query("SELECT count(*) AS n FROM candles")
    assert status == 200 and res["rows"] == [[90]]
    for sql in ("DELETE FROM candles", "CREATE TABLE t AS SELECT 1", "COPY candles TO '/tmp/x.csv'", "ATTACH 'x.db'",
                "SET threads = 1", "SELECT * FROM read_csv('/etc/passwd')"):
        status, res = query(sql)
        assert status == 403, sql
        assert res["error"]["type"] == "ReadOnlyViolation", sql
    status, res = query("SELEC 1")
    assert status == 400 and res["error"]["type"] == "InvalidInput"
    # the row limit, then the byte limit (lowered here to see it bite)
    monkeypatch.setattr(ui_views, "QUERY_MAX_ROWS", 7)
    status, res = query("SELECT * FROM range(100)")
    assert res["rowCount"] == 7 and res["truncated"] and res["truncatedBy"] == "rows"
    monkeypatch.setattr(ui_views, "QUERY_MAX_ROWS", 1000)
    monkeypatch.setattr(ui_views, "QUERY_MAX_BYTES", 4096 + 200)
    status, res = query("SELECT repeat('x', 50) AS s FROM range(100)")
    assert res["truncatedBy"] == "bytes" and 0 < res["rowCount"] < 100
    assert len(json.dumps(res["rows"])) <= 200


def test_errors_are_json_that_names_the_problem(ui):
    status, _, body = request(ui.port, "GET", "/api/artifacts/0123abc", headers=auth(ui))
    assert status == 404 and json.loads(body)["error"]["type"] == "ArtifactNotFound"
    status, _, body = request(ui.port, "GET", "/api/artifacts?status=gone", headers=auth(ui))
    assert status == 400 and json.loads(body)["error"]["data"]["field"] == "status"
    status, _, body = request(ui.port, "GET", "/api/artifacts?sort=row_count&cursor=garbage", headers=auth(ui))
    assert status == 400 and "cursor" in json.loads(body)["error"]["message"]


def test_artifacts_page_sorts_searches_and_pages_with_the_manifests_cursors(ui):
    def page(qs):
        status, _, body = request(ui.port, "GET", "/api/artifacts?" + qs, headers=auth(ui))
        assert status == 200, body
        return json.loads(body)

    rows = page("sort=-row_count&limit=25")["items"]
    assert [r["rowCount"] for r in rows] == [60, 30]
    assert [r["rowCount"] for r in page("sort=row_count&limit=25")["items"]] == [30, 60]
    assert [r["logicalKey"][:9] for r in page("q=XYZ&limit=25")["items"]] == ["token=XYZ"]
    assert page("q=xyz&limit=25")["items"] == []  # key text is case-sensitive (token addresses are)
    assert page(f"q={ui.ids[0][:6]}&limit=25")["items"][0]["artifactId"] == ui.ids[0]


def test_provenance_and_projections_reach_the_page_in_the_contracts_camelcase(ui):
    """The pages get the domain objects encoded as the RPC contract encodes them (one type each)."""
    from pathlib import Path

    schemas = Path(__file__).resolve().parents[2] / "schemas"

    def get(path):
        status, _, body = request(ui.port, "GET", path, headers=auth(ui))
        assert status == 200, body
        return json.loads(body)

    def fields(method: str, name: str) -> set[str]:
        return set(json.loads((schemas / f"{method}.result.json").read_text())["$defs"][name]["properties"])

    prov = get(f"/api/artifacts/{ui.ids[0]}")["provenance"]
    assert set(prov) == fields("getProvenance", "Provenance") and prov["writerName"] and prov["canonicalForm"]
    [proj] = get("/api/projections")["projections"]
    assert set(proj) == fields("getProjection", "ProjectionResult")
    assert proj["projectionId"] == ui.projection_id and proj["rowCount"] == {"candles": 90}


def test_browsing_every_endpoint_leaves_the_lake_unchanged(ui):
    lake = ui.store.lake.root
    before = lake_snapshot(lake)
    paths = ["/", "/api/types", "/api/artifacts", "/api/artifacts?sort=logical_key&q=a", f"/api/artifacts/{ui.ids[0]}",
             f"/api/artifacts/{ui.ids[0]}/node", f"/api/lineage/{ui.ids[0]}?direction=downstream", "/api/runs",
             "/api/sweeps", "/api/coverage", "/api/projections", "/api/compare?runs=nope", "/api/sweeps/nope",
             "/docs/ui"]
    for path in paths:
        assert request(ui.port, "GET", path, headers=auth(ui))[0] in (200, 400, 404), path
    for method in ("POST", "PUT", "DELETE"):
        for path in paths:
            request(ui.port, method, path, headers=auth(ui), body=b'{"sql": "DROP TABLE candles"}')
    body = json.dumps({"projectionId": ui.projection_id, "sql": "DROP TABLE candles"}).encode()
    assert request(ui.port, "POST", "/api/query", headers=auth(ui), body=body)[0] == 403
    assert lake_snapshot(lake) == before


def test_cli_refuses_a_missing_lake_with_a_clear_message(tmp_path):
    res = subprocess.run([sys.executable, "-m", "bridge", "ui", "--lake", str(tmp_path / "none"), "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode in (2, 3) and "no lake at" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "none").exists()


# -- a sweep with walk-forward validation, and the docs its page links to ---------------------------

@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    from bridge.experiments import Experiments
    from tests.experiments.test_overfit import _lake_inputs

    lake = tmp_path_factory.mktemp("uisweep") / "lake"
    store = Store(lake)
    exps = Experiments(store)
    d = _lake_inputs(store)
    grid = {"takeProfitPct": [5, 20], "stopLossPct": [5, 10]}
    validated = exps.sweep(d, grid, validation={"method": "walkForward", "folds": 3, "cscvBlocks": 4})
    plain = exps.sweep(d, grid)
    store.close()
    server = UiServer.start(lake, port=0)
    yield server, validated, plain
    server.stop()


def test_the_sweep_page_carries_its_validation(sweeps):
    from bridge.experiments.views import sweep_view

    ui, validated, plain = sweeps
    status, _, body = request(ui.port, "GET", f"/api/sweeps/{validated.sweep_id}", headers=auth(ui))
    assert status == 200
    got = json.loads(body)
    assert got == json.loads(json.dumps(sweep_view(ui.store, validated.sweep_id)))  # the domain view, as JSON
    v = got["validation"]
    assert v["artifactId"] == validated.validation.artifact_id and v["metric"] == "mean_return"
    assert [f["experimentId"] for f in v["folds"]] == [f.experiment_id for f in validated.validation.folds]
    assert v["overfit"]["dsr"] == pytest.approx(validated.validation.overfit.dsr)
    assert v["overfit"]["pbo"] == pytest.approx(validated.validation.overfit.pbo)
    status, _, body = request(ui.port, "GET", f"/api/sweeps/{plain.sweep_id}", headers=auth(ui))
    assert status == 200 and json.loads(body)["validation"] is None


def test_the_docs_the_pages_link_to_are_served_as_html_with_anchors(sweeps):
    ui = sweeps[0]
    status, headers, body = request(ui.port, "GET", "/docs/experiments", headers=auth(ui))
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode()
    for anchor in ("out-of-sample-sweeps", "overfitting-guards"):  # app.js links to these
        assert f'id="{anchor}"' in page
    assert "<script" not in page and "default-src 'none'" in headers["content-security-policy"]
    from importlib import resources

    js = resources.files("bridge.ui").joinpath("static", "app.js").read_text(encoding="utf-8")
    assert "/docs/experiments#overfitting-guards" in js and "/docs/experiments#out-of-sample-sweeps" in js
    for bad in ("/docs/nope", "/docs/EXPERIMENTS", "/docs/experiments.md", "/docs/..%2Fpyproject", "/docs/../README"):
        status, headers, body = request(ui.port, "GET", bad, headers=auth(ui))
        assert status == 404 and b"pyproject" not in body and b"QuantBot" not in body, bad


def test_docs_escape_raw_html_and_link_sibling_docs(tmp_path, monkeypatch):
    from bridge.ui import docs

    (tmp_path / "demo.md").write_text("# Demo\n\n## A b-c (d)\n\n<script>alert(1)</script> see [cli](cli.md#x)\n",
                                      encoding="utf-8")
    monkeypatch.setattr(docs, "DOCS_DIR", tmp_path)
    page = docs.render_doc("demo")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'id="a-b-c-d"' in page and 'href="/docs/cli#x"' in page and "<title>Demo</title>" in page
    monkeypatch.setattr(docs, "DOCS_DIR", None)  # an installed wheel: no docs, said plainly
    with pytest.raises(NotFound, match="no docs folder"):
        docs.render_doc("demo")


_MARKDOWN_TAGS = {"html", "head", "meta", "title", "link", "body", "header", "span", "a", "main", "h1", "h2", "h3",
                  "h4", "h5", "h6", "p", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "hr", "br",
                  "img", "table", "thead", "tbody", "tr", "th", "td"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=x>", "<div>", "</div>", "<b>", "<!-- c -->",
    "[a](javascript:alert(1))", "![i](x.png)", "`<i>`", "# h", "text", " ", "\n", "\n\n", "*", "|a|b|\n|-|-|\n",
    "<", ">", "\"", "'", "=", "on", "load",
]), max_size=30).map("".join) | st.text(max_size=60))
def test_docs_never_pass_raw_html_through(tmp_path_factory, text):
    """Whatever a doc holds, the page has only the tags markdown renders, and no event handler."""
    import re

    from bridge.ui import docs

    folder = tmp_path_factory.mktemp("docs")
    (folder / "prop.md").write_text(text, encoding="utf-8")
    old, docs.DOCS_DIR = docs.DOCS_DIR, folder
    try:
        page = docs.render_doc("prop")
    finally:
        docs.DOCS_DIR = old
    tags = {t.lower() for t in re.findall(r"<\s*/?\s*([A-Za-z][A-Za-z0-9]*)", page)}
    assert tags <= _MARKDOWN_TAGS, tags - _MARKDOWN_TAGS
    assert not re.search(r"<[^>]*\son\w+\s*=", page)
