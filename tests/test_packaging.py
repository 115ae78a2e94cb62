"""The packages work outside this repository, as a user installs them.

The Python package: an sdist is built from the tracked files, a wheel from the unpacked sdist
(as `python -m build` does), and the wheel is installed into a new virtualenv. Its dependencies
come from this checkout's .venv through a path entry (installed already, from the lock); the
`bridge` package itself is the wheel's. The TypeScript package: `npm pack`, installed from the
tarball into a scratch project outside the repo, calls the daemon of that virtualenv, and a
strict `nodenext` consumer type-checks against its declarations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from bridge.api import PROTOCOL_VERSION

REPO = Path(__file__).resolve().parents[1]
TS = REPO / "ts-client"
pytestmark = pytest.mark.slow


def run(cmd, cwd, env=None, timeout=300):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def build_backend(call: str, src: Path, out: Path) -> Path:
    """One PEP 517 hook of the package's own backend, in a subprocess, in `src`."""
    code = f"import setuptools.build_meta as b, sys; print(b.{call}(sys.argv[1]))"
    name = run([sys.executable, "-c", code, str(out)], cwd=src).stdout.strip().splitlines()[-1]
    return out / name


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    files = run(["git", "ls-files", "-z"], cwd=REPO).stdout.split("\0")
    for rel in filter(None, files):
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    dist = tmp / "dist"
    dist.mkdir()
    sdist = build_backend("build_sdist", src, dist)
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (unpacked,) = (tmp / "unpacked").iterdir()
    wheel = build_backend("build_wheel", unpacked, dist)

    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    py = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        cwd=tmp)
    site = run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    # The dependencies, not the editable bridge: a plain path line does not run the .pth files there.
    Path(site, "deps-from-checkout.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return {"tmp": tmp, "sdist": sdist, "wheel": wheel, "venv": venv, "python": py}


def test_the_wheel_carries_the_manifest_sql_and_every_migration(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    sql = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "bridge" / "store" / "sql").rglob("*.sql"))
    assert sql and set(sql) <= set(names)
    assert any(n.endswith("entry_points.txt") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "scripts/", "ts-client/"))]


def test_the_installed_bridge_command_works_outside_the_repo(installed):
    tmp, venv = installed["tmp"], installed["venv"]
    where = run([str(installed["python"]), "-c", "import bridge; print(bridge.__file__)"], cwd=tmp).stdout
    assert where.startswith(str(venv)), where  # the wheel's bridge, not this checkout's
    assert "init" in run([str(venv / "bin" / "bridge"), "--help"], cwd=tmp).stdout
    run([str(venv / "bin" / "bridge"), "init", "--lake", str(tmp / "lake")], cwd=tmp)
    assert (tmp / "lake" / "manifest" / "manifest.sqlite").is_file()
    frames = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                "params": {"protocolVersion": PROTOCOL_VERSION}}) + "\n"
              + json.dumps({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}) + "\n"
              + json.dumps({"jsonrpc": "2.0", "method": "exit"}) + "\n")
    proc = subprocess.run([str(installed["python"]), "-m", "bridge", "serve", "--lake", str(tmp / "lake")],
                          cwd=tmp, input=frames, capture_output=True, text=True, timeout=60)
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    assert "result" in replies[0], replies
    assert proc.returncode == 0 and replies[0]["id"] == 1 and "protocolVersion" in replies[0]["result"]


@pytest.fixture(scope="module")
def node_project(installed) -> Path:
    if shutil.which("npm") is None or not (TS / "dist" / "src" / "index.js").is_file():
        pytest.fail("npm and a built ts-client (./scripts/setup.sh) are needed for the package test")
    tmp = installed["tmp"]
    packed = run(["npm", "pack", "--ignore-scripts", "--json", "--pack-destination", str(tmp)], cwd=TS).stdout
    tarball = tmp / json.loads(packed)[0]["filename"]
    project = tmp / "consumer"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "consumer", "private": True, "type": "module"}),
                                          encoding="utf-8")
    run(["npm", "install", "--offline", "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error",
         str(tarball)], cwd=project)
    return project


def test_the_npm_package_installs_and_calls_the_daemon_from_another_project(installed, node_project):
    manifest = json.loads((node_project / "node_modules" / "@quantbot" / "artifact-store" / "package.json")
                          .read_text(encoding="utf-8"))
    assert manifest["license"] == "MIT" and not manifest.get("private")
    (node_project / "use.mjs").write_text(textwrap.dedent("""
        import { ArtifactStoreClient } from "@quantbot/artifact-store";
        const store = new ArtifactStoreClient({ lake: "lake", pythonPath: process.argv[2] });
        await store.start();
        const res = await store.publishDataFrame({
          artifactType: "run_metrics", schemaVersion: 1, logicalKey: "run=consumer",
          dataFrame: [{ run_id: "r1", metric_name: "sharpe", metric_value: 1.5, metric_unit: null,
                        computed_at: "2026-01-01T00:00:00Z" }],
          writerName: "consumer", writerVersion: "1.0.0", gitCommit: "abc1234", gitDirty: false,
        });
        const listed = await store.listArtifacts({ artifactType: "run_metrics" });
        await store.close();
        console.log(JSON.stringify({ id: res.artifactId, sidecar: Object.keys(res.sidecar),
                                     listed: listed.map((a) => a.artifactId), state: store.state }));
    """), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "QUANTBOT_PYTHON"}
    out = json.loads(run(["node", "use.mjs", str(installed["python"])], cwd=node_project, env=env).stdout)
    assert out["listed"] == [out["id"]] and out["state"] == "closed"
    assert "writerName" in out["sidecar"] and not [k for k in out["sidecar"] if "_" in k]


def test_a_python_without_the_bridge_gets_an_error_that_says_how_to_point_the_client(node_project):
    (node_project / "bare.mjs").write_text(textwrap.dedent("""
        import { ArtifactStoreClient } from "@quantbot/artifact-store";
        const store = new ArtifactStoreClient({ lake: "lake" });
        try { await store.start(); console.log("started"); }
        catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }
    """), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("QUANTBOT_PYTHON", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    out = json.loads(run(["node", "bare.mjs"], cwd=node_project, env=env).stdout)
    assert out["name"] == "DaemonStartError"
    for words in ("has no `bridge` module", "pythonPath", "QUANTBOT_PYTHON", "venv"):
        assert words in out["message"]


def test_a_strict_nodenext_consumer_type_checks(node_project):
    for dep in ("@types/node", "undici-types"):  # what the consumer itself installs for Node's types
        if not (node_project / "node_modules" / dep).exists():
            shutil.copytree(TS / "node_modules" / dep, node_project / "node_modules" / dep)
    (node_project / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": True,
        "noEmit": True, "exactOptionalPropertyTypes": True, "noUncheckedIndexedAccess": True,
        "skipLibCheck": False, "types": ["node"]}, "files": ["check.ts"]}), encoding="utf-8")
    (node_project / "check.ts").write_text(textwrap.dedent("""
        import { ArtifactStoreClient, type Artifact } from "@quantbot/artifact-store";
        const store = new ArtifactStoreClient({ lake: "lake", pythonPath: "/x/bin/python" });
        export async function ids(): Promise<string[]> {
          const all: Artifact[] = await store.listArtifacts({ artifactType: "alerts_v1" });
          return all.map((a) => a.artifactId);
        }
    """), encoding="utf-8")
    run([str(TS / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json"], cwd=node_project)
