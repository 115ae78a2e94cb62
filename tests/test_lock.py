"""requirements.lock agrees with pyproject.toml: every declared dependency (runtime, test and the
build backend) is locked at a version its range allows, nothing is locked that nothing asks for,
and every locked package carries hashes. A dependency added to pyproject.toml without
`./scripts/lock.sh` fails here, not on a fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)")


def locked() -> dict[str, dict]:
    """{name: {version, hashes, via}} from the lock file's blocks."""
    out: dict[str, dict] = {}
    current = None
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if m := ENTRY.match(line):
            current = out[canonicalize_name(m[1])] = {"version": Version(m[2]), "hashes": 0, "via": ""}
        elif current is not None and "--hash=sha256:" in line:
            current["hashes"] += 1
        elif current is not None and line.strip().startswith("#"):
            current["via"] += line
    return out


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    reqs = [*project["project"]["dependencies"], *project["project"]["optional-dependencies"]["test"],
            *project["build-system"]["requires"]]
    return [Requirement(r) for r in reqs]


def test_every_declared_dependency_is_locked_within_its_range():
    lock = locked()
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} is in pyproject.toml but not in requirements.lock: run ./scripts/lock.sh"
        assert req.specifier.contains(lock[name]["version"], prereleases=True), (
            f"requirements.lock has {name}=={lock[name]['version']}, outside {req}: run ./scripts/lock.sh")


def test_the_lock_names_no_direct_dependency_that_pyproject_dropped():
    names = {canonicalize_name(r.name) for r in declared()}
    direct = {n for n, e in locked().items() if "(pyproject.toml)" in e["via"] or "build-requirements.in" in e["via"]}
    assert direct <= names, f"locked as direct but not declared: {sorted(direct - names)}: run ./scripts/lock.sh"
    assert names <= direct, f"declared but not locked as direct: {sorted(names - direct)}: run ./scripts/lock.sh"


def test_every_locked_package_has_hashes():
    lock = locked()
    assert len(lock) > 20
    assert [n for n, e in lock.items() if e["hashes"] == 0] == []


def test_setup_installs_from_the_lock_with_hashes_and_no_build_isolation():
    setup = (REPO / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r requirements.lock" in setup
    assert "--no-deps --no-build-isolation -e ." in setup
    assert "npm ci" in setup
