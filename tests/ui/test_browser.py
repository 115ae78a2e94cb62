"""End to end in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium, which
scripts/setup.sh installs) through the pages on a lake built by the quickstart (which ends with a
sweep under walk-forward validation) plus the same sweep without validation: filter artifacts,
open one, expand its lineage graph, compare two runs, open a sweep heat map, check the sweep's
in-sample vs out-of-sample chart and table and its DSR and PBO against the validation artifact,
follow the link to their definitions, run a SQL query and see a refused write. Screenshots go to $BRIDGE_UI_SCREENSHOTS (default
build/ui-screenshots/). Without Chromium this test FAILS, saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.ui.helpers import lake_snapshot

CHROMIUM = os.environ.get("BRIDGE_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("BRIDGE_UI_SCREENSHOTS", REPO / "build" / "ui-screenshots"))
NODE = shutil.which("node")

SWEEP = """
import sys
from bridge.experiments import Experiments
from bridge.experiments.runs import RunRecords
from bridge.store import Store
store = Store(sys.argv[1])
ex = Experiments(store)
run = ex.list_runs(limit=1)[0]
ex.sweep(RunRecords(store).definition(run.run_id), {"takeProfitPct": [20, 30, 50], "stopLossPct": [10, 15]})
"""  # the quickstart's grid without validation


def _validation_artifact(lake: Path) -> tuple[str, str, dict]:
    """(validated sweep, plain sweep, the validation artifact's rows by (section, fold, sample,
    metric)), read from the manifest and the Parquet file directly, not through the UI's views."""
    import sqlite3

    import pyarrow.parquet as pq

    con = sqlite3.connect(f"file:{lake / 'manifest' / 'manifest.sqlite'}?mode=ro", uri=True)
    try:
        (path, key), = con.execute("SELECT path_parquet, logical_key FROM artifacts "
                                   "WHERE artifact_type = 'experiment_sweep_validation'").fetchall()
        sweeps = [r[0] for r in con.execute("SELECT sweep_id FROM experiment_sweeps")]
    finally:
        con.close()
    validated = key.removeprefix("sweep=").removesuffix("/validation")
    (plain,) = [s for s in sweeps if s != validated]
    path = Path(path) if Path(path).is_absolute() else lake / path
    rows = {(r["section"], r["fold"], r["sample"], r["metric_name"]): r["metric_value"]
            for r in pq.read_table(path).to_pylist()}
    return validated, plain, rows


def _shown(text: str) -> float:
    """A number as the page prints it (1,234 · 0.1234 · 1.234e-4)."""
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def quickstart_lake(tmp_path_factory) -> Path:
    assert NODE is not None and (REPO / "ts-client" / "dist" / "src" / "index.js").is_file(), \
        "needs node and a built ts-client: run ./scripts/setup.sh"
    tmp = tmp_path_factory.mktemp("uiqs")
    lake = tmp / "lake"
    env = {**os.environ, "QUANTBOT_PYTHON": sys.executable}
    res = subprocess.run([NODE, str(REPO / "scripts" / "quickstart.mjs"), "--lake", str(lake)], cwd=tmp,
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run([sys.executable, "-c", SWEEP, str(lake)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return lake


@pytest.fixture(scope="module")
def chromium() -> str:
    """Checked before the lake is built, so a missing browser fails at once, saying what to do."""
    assert Path(CHROMIUM).is_file(), (
        f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's `chromium` package "
        "(./scripts/setup.sh installs it as root: apt-get install -y chromium), or set BRIDGE_CHROMIUM")
    return CHROMIUM


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-default-apps", "--disable-sync", "--no-first-run",
        "--metrics-recording-only", "--disable-extensions"])


def test_walk_through_the_pages_in_chromium(chromium, quickstart_lake):
    from playwright.sync_api import expect, sync_playwright

    from bridge.ui import UiServer

    SHOTS.mkdir(parents=True, exist_ok=True)
    before = lake_snapshot(quickstart_lake)
    ui = UiServer.start(quickstart_lake, port=0)
    errors: list[str] = []
    outside: list[str] = []
    try:
        with sync_playwright() as p:
            browser = _browser(p)
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            failed: list[tuple[int, str]] = []  # HTTP errors are checked here, not through the console
            page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
            page.on("request", lambda r: None if r.url.startswith(ui.base_url) or r.url.startswith("data:")
                    else outside.append(r.url))

            def shot(name: str) -> None:
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)

            # artifacts: the token in the URL, then filter by type
            page.goto(ui.url)
            expect(page.locator("#artifacts-table tbody tr").first).to_be_visible()
            assert "token=" not in page.url  # dropped from the address bar once the cookie is set
            page.select_option("select[name=type]", "ohlcv_slice")
            page.click("#apply-filters")
            expect(page.locator("#artifacts-table tbody tr").first).to_be_visible()
            types = page.locator("#artifacts-table tbody tr td:nth-child(2)").all_inner_texts()
            assert types and set(types) == {"ohlcv_slice"}
            page.click("#artifacts-table th:has-text('rows')")  # sort by rows, server side
            expect(page.locator("#artifacts-table th.asc")).to_have_text("rows")
            rows = [int(t.replace(",", "")) for t in page.locator("#artifacts-table tbody td.n").all_inner_texts()]
            assert rows == sorted(rows)
            shot("01-artifacts-filtered")

            # one artifact: the trades of the quickstart run, then its lineage graph
            page.goto(ui.base_url + "#/artifacts?type=experiment_trades&sort=created_at")
            page.locator("#artifacts-table tbody tr a").first.click()
            expect(page.locator("h1")).to_contain_text("experiment_trades")
            expect(page.locator("#preview tr").nth(1)).to_be_visible()
            graph = page.locator("#lineage svg")
            expect(graph.locator("g.node").nth(1)).to_be_visible()  # the root's direct inputs came lazily
            n_before = graph.locator("g.node").count()
            graph.locator("g.node:not(.root) g.exp[data-dir=upstream]").first.click()  # expand a slice's alerts
            expect(graph.locator("g.node")).not_to_have_count(n_before)
            page.click("#expand-all")
            page.wait_for_timeout(500)
            assert graph.locator("g.node").count() > n_before
            assert graph.locator("path.edge").count() >= graph.locator("g.node").count() - 1
            shot("02-artifact-lineage")
            graph.locator("g.node:not(.root) .label").first.click()  # click to navigate
            expect(page.locator("h1")).not_to_contain_text("experiment_trades")

            # runs: compare two
            page.goto(ui.base_url + "#/runs")
            boxes = page.locator("input[type=checkbox][data-run]")
            expect(boxes.nth(1)).to_be_visible()
            boxes.nth(0).check()
            boxes.nth(1).check()
            page.click("#compare")
            expect(page.locator("h1")).to_have_text("Comparing 2 runs")
            expect(page.locator("#diff")).to_contain_text("config.strategy")
            expect(page.locator("#compare-metrics")).to_contain_text("total_return")
            expect(page.locator("#compare-charts .uplot")).to_have_count(2)
            assert page.locator("#compare-charts .uplot").first.locator(".u-series").count() == 3  # x + 2 runs
            shot("03-runs-compare")

            # a run page: the price chart with entry and exit for a chosen trade
            page.locator("#page table a[href^='#/run/']").first.click()
            page.locator("#trades tr.click").first.click()
            expect(page.locator("#price-chart .uplot")).to_be_visible()
            expect(page.locator("#price-chart")).to_contain_text("entry")
            shot("04-run-trade")

            # a sweep heat map, then another metric
            page.goto(ui.base_url + "#/sweeps")
            page.locator("#page a[href^='#/sweep/']").first.click()
            heat = page.locator("#heatmap svg rect.cell")
            expect(heat).to_have_count(6)  # 3 take-profit x 2 stop-loss
            page.select_option("#heat-metric", "win_rate")
            expect(page.locator("#heatmap svg")).to_contain_text("win_rate")
            shot("05-sweep-heatmap")

            # the sweep with walk-forward validation: IS vs OOS per fold, DSR and PBO as in the artifact
            validated, plain, vrows = _validation_artifact(quickstart_lake)
            page.goto(ui.base_url + f"#/sweep/{validated}")
            expect(page.locator("#heatmap svg rect.cell")).to_have_count(6)
            expect(page.locator("#wf-stat")).to_have_value("mean_return")  # the selection metric
            expect(page.locator("#heat-metric")).to_have_value("mean_return")  # the heat map starts on it too
            folds = sorted({k[1] for k in vrows if k[0] == "fold"})
            assert len(folds) == 4
            table = page.locator("#wf-folds tr[data-fold]")
            expect(table).to_have_count(len(folds))
            for i, fold in enumerate(folds):
                row = table.nth(i)
                for cls, sample in (("is", "in_sample"), ("oos", "out_of_sample")):
                    want = vrows[("fold", fold, sample, "mean_return")]
                    assert _shown(row.locator(f"td.{cls}").inner_text()) == pytest.approx(want, abs=1e-4)
            chart = page.locator("#wf-chart .uplot")
            expect(chart).to_be_visible()
            assert chart.locator(".u-legend .u-series").count() == 3  # fold, in-sample, out-of-sample
            box = chart.locator(".u-over").bounding_box()
            last = len(folds)  # hover the last fold: the legend shows that fold's bars
            page.mouse.move(box["x"] + box["width"] * (last - 0.5) / len(folds), box["y"] + box["height"] / 2)
            legend = chart.locator(".u-legend .u-series .u-value")
            expect(legend.nth(0)).to_have_text(f"fold {last}")
            for j, sample in ((1, "in_sample"), (2, "out_of_sample")):
                assert _shown(legend.nth(j).inner_text()) == pytest.approx(vrows[("fold", last, sample, "mean_return")],
                                                                           abs=1e-4)
            for name in ("dsr", "pbo"):
                want = vrows[("overfit", None, None, name)]
                assert want is not None  # 80 alerts, 6 points: both defined
                assert _shown(page.locator(f"#{name}").inner_text()) == pytest.approx(want, abs=1e-4)
            dsr, pbo = vrows[("overfit", None, None, "dsr")], vrows[("overfit", None, None, "pbo")]
            expect(page.locator("#dsr-verdict")).to_have_text(
                "significant at 95 %" if dsr > 0.95 else "not significant at 95 %")
            expect(page.locator("#pbo-verdict")).to_have_text(
                "the in-sample best is likely overfit" if pbo > 0.5 else "the in-sample choice carries little information"
                if pbo >= 0.25 else "the in-sample choice tends to hold out of sample")
            chosen = page.locator("#page table.sortable").last.locator("tbody td:last-child").all_inner_texts()
            shown = sorted(int(x) for cell in chosen if cell != "—" for x in cell.split(", "))
            assert shown == folds  # the grid marks the point chosen in each fold
            page.select_option("#wf-stat", "trade_count")
            expect(page.locator("#wf-folds th").nth(4)).to_have_text("in-sample trade_count")
            assert _shown(table.nth(0).locator("td.is").inner_text()) == vrows[("fold", folds[0], "in_sample", "trade_count")]
            page.select_option("#wf-stat", "mean_return")
            page.locator("#validation").scroll_into_view_if_needed()
            shot("08-sweep-validation")
            page.evaluate("window.scrollTo(0, 0)")  # full-page coordinates: the sticky header stays at the top
            page.screenshot(path=str(SHOTS / "sweep-validation.png"), full_page=True,
                            clip=page.locator("#validation").bounding_box())
            with page.context.expect_page() as popup:  # the definitions, served from docs/ (the cookie carries over)
                page.locator("#overfit a[href^='/docs/']").click()
            docs = popup.value
            expect(docs.locator("h2#overfitting-guards")).to_have_text("Overfitting guards")
            expect(docs.locator("main")).to_contain_text("Deflated Sharpe Ratio")
            docs.close()
            page.goto(ui.base_url + f"#/sweep/{plain}")
            expect(page.locator("#no-validation")).to_contain_text("No walk-forward validation for this sweep")
            expect(page.locator("#no-validation")).to_contain_text("--walk-forward")
            expect(page.locator("#wf-chart")).to_have_count(0)

            # coverage
            page.goto(ui.base_url + "#/coverage")
            expect(page.locator("h2").first).to_have_text("Per token")
            shot("06-coverage")

            # projections: a query, then a refused write
            page.goto(ui.base_url + "#/projections")
            expect(page.locator("#projections tr").nth(1)).to_be_visible()
            options = page.locator("#sql-projection option").all_inner_texts()
            with_alerts = next(o for o in options if "alerts" in o).split(" ")[0]
            page.select_option("#sql-projection", with_alerts)
            page.fill("#sql", "SELECT chain, count(*) AS n FROM alerts GROUP BY chain ORDER BY n DESC")
            page.click("#run-sql")
            expect(page.locator("#sql-result table tr").nth(1)).to_contain_text("solana")
            page.fill("#sql", "DELETE FROM alerts")
            page.click("#run-sql")
            expect(page.locator("#sql-result .error")).to_contain_text("ReadOnlyViolation")
            shot("07-sql-refused")
            browser.close()
        assert failed == [(403, ui.base_url + "api/query")], failed  # the refused write, nothing else
    finally:
        ui.stop()
    assert not errors, errors
    assert not outside, outside
    assert lake_snapshot(quickstart_lake) == before
    assert len(list(SHOTS.glob("*.png"))) >= 9
