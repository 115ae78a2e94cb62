"""No traceback reaches a user: every command with bad input ends in one line and an exit code
from the one table; a mistyped lake is refused, never created; Ctrl-C exits 130; a closed pipe
exits 141 quietly."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from bridge.cli import build_parser, main
from bridge.cli._common import EXIT_CODES
from bridge.store import Store
from tests.conftest import REPO, sigint_default

SKIP = {("serve",), ("demo",), ("ui",)}  # serve reads stdin; demo builds a lake; ui serves until Ctrl-C (tests/ui)
ALLOWED = {code for code, _ in EXIT_CODES}


def _leaves(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _leaves(sub, (*prefix, name))
            return
    yield prefix, parser


def _bad_argv(path: tuple[str, ...], parser: argparse.ArgumentParser, lake: str) -> list[str]:
    argv = list(path)
    for a in parser._actions:
        if not a.option_strings and a.dest not in ("help",) and a.nargs != 0:
            argv += ["no-such-thing.json"] * (1 if a.nargs in (None, "?", "+", 1) else 1)
        elif a.required:
            argv += [a.option_strings[0], "bad"]
    if any("--lake" in a.option_strings for a in parser._actions):
        argv += ["--lake", lake]
    return argv


def _run(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage error
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_command_with_bad_input_says_one_line_without_traceback(tmp_path, capsys):
    lake = tmp_path / "lake"
    Store(lake).close()
    (tmp_path / "dir.csv").mkdir()
    seen = []
    for path, parser in _leaves(build_parser()):
        if path in SKIP or not path:
            continue
        for argv in (_bad_argv(path, parser, str(lake)), _bad_argv(path, parser, str(tmp_path / "lakee")),
                     [*_bad_argv(path, parser, str(lake)), "--json"] if "--json" in parser._option_string_actions else None):
            if argv is None:
                continue
            if path == ("init",) and str(tmp_path / "lakee") in argv:
                continue
            code, out, err = _run(argv, capsys)
            seen.append(" ".join(path))
            assert "Traceback" not in err and "Traceback" not in out, (argv, err)
            assert code in ALLOWED and code != 70, (argv, code, err)
            if code == 0:
                continue
            if "usage:" in err:  # argparse refused the flags
                assert code == 2
            elif "--json" in argv:
                assert json.loads(out)["error"]["message"], (argv, out)
            else:
                assert err.startswith("error: ") and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "lakee").exists()  # a mistyped lake is never created
    assert {"ls", "verify", "experiment ls", "project ls", "ingest telegram", "ohlcv load"} <= set(seen)


@pytest.mark.parametrize("cmd", [["ls"], ["verify"], ["experiment", "ls"], ["project", "ls"], ["stale"], ["gc"],
                                 ["tombstone", "0" * 32]])
def test_reading_and_writing_commands_refuse_a_missing_lake(tmp_path, capsys, cmd):
    missing = tmp_path / "lakee"
    code, out, err = _run([*cmd, "--lake", str(missing)], capsys)
    assert code == 3
    assert err == f"error: no lake at {missing} (create one with `bridge init --lake {missing}`)\n"
    assert not missing.exists()
    code, out, _ = _run(["init", "--lake", str(missing)], capsys)
    assert code == 0 and missing.is_dir()
    assert _run([*cmd, "--lake", str(missing)], capsys)[0] in (0, 3)  # now it runs (3: no such artifact)


def test_a_lake_path_that_is_a_file_or_cannot_be_made_is_one_line(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    for argv, code in ((["ls", "--lake", str(f)], 3), (["init", "--lake", str(f)], 2),
                       (["init", "--lake", str(f / "sub")], 2), (["demo", "--lake", str(f)], 2),
                       (["init", "--lake", "/proc/no/such/lake"], 5)):
        got, out, err = _run(argv, capsys)
        assert got == code and err.startswith("error: ") and err.count("\n") == 1, (argv, err)
        assert str(argv[-1]) in err
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "bridge", "serve", "--lake", str(f)], input=b"", env=env,
                          capture_output=True, timeout=60)
    assert b"Traceback" not in proc.stderr


def test_version_and_help_text_for_every_flag(capsys):
    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.startswith("bridge ")
    missing = []
    for path, parser in _leaves(build_parser()):
        for a in parser._actions:
            if a.help in (None, "") and a.dest != "help":
                missing.append(f"{' '.join(path)} {a.option_strings or a.dest}")
    assert missing == []
    code, out, _ = _run(["--help"], capsys)
    for c, _d in EXIT_CODES:
        assert f"  {c:>3}  " in out


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_closed_stdout_exits_141_quietly(tmp_path):
    lake = tmp_path / "lake"
    Store(lake).close()
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "types", "--json", "--lake", str(lake)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    proc.stdout.close()  # like `| head` leaving before the first write
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_ctrl_c_while_waiting_exits_130(tmp_path):
    lake = tmp_path / "lake"
    store = Store(lake)
    (tmp_path / "a.csv").write_text("ts,open,high,low,close,volume\n2026-01-26T00:00:00Z,1,2,0.5,1.5,10\n")
    aid = store.publish("ohlcv_slice", 2, "token=A/res=1m", tmp_path / "a.csv", git_commit="x").artifact_id
    holder = sqlite3.connect(store.lake.manifest_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the tombstone waits for this lock
    go = tmp_path / "go"
    go.touch()  # the hold point only marks: it touches go.reached when the write finds the lock taken
    reached = tmp_path / "go.reached"
    proc = None
    try:
        proc = subprocess.Popen([sys.executable, "-m", "bridge", "tombstone", aid, "--lake", str(lake)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=sigint_default,
                                env={**_env(), "QB_HOLD_AT": "manifest_busy", "QB_HOLD_FILE": str(go)})
        deadline = time.monotonic() + 120
        while not reached.exists():  # it is now in the lock wait (which lasts 60 s)
            assert proc.poll() is None and time.monotonic() < deadline, (proc.kill(), proc.communicate(timeout=10))
            time.sleep(0.02)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
        took = time.monotonic() - sent
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and err.decode().strip() == "interrupted"
    assert took < 30, f"exit took {took:.1f} s after Ctrl-C (the lock wait lasts 60 s)"
    assert store.get(aid).status == "active"


def test_unreadable_inputs_are_one_line(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert _run(["init", "--lake", lake], capsys)[0] == 0
    (tmp_path / "d.csv").mkdir()
    (tmp_path / "d.json").mkdir()
    pub = ["--artifact-type", "ohlcv_slice", "--schema-version", "2", "--logical-key", "token=A/res=1m",
           "--writer-name", "w", "--writer-version", "1"]
    for argv in (["publish", str(tmp_path / "d.csv"), *pub], ["ingest", "telegram", str(tmp_path / "d.json")],
                 ["experiment", "run", str(tmp_path / "d.json")], ["ohlcv", "load", str(tmp_path / "d.csv")],
                 ["ingest", "telegram", "/proc/self/mem"]):
        code, out, err = _run([*argv, "--lake", lake], capsys)
        assert code in (2, 5) and err.startswith("error: ") and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err


def test_duckdb_interrupts_count_as_ctrl_c(capsys):
    import duckdb

    from bridge.cli._common import EXIT_INTERRUPTED, report_error

    assert report_error(duckdb.InterruptException("INTERRUPT Error: Interrupted!"), as_json=False) == EXIT_INTERRUPTED
    assert report_error(RuntimeError("Query interrupted"), as_json=False) == EXIT_INTERRUPTED
    assert report_error(RuntimeError("something else"), as_json=False) == 70
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: interrupted" and err[-1].startswith("error: internal error: RuntimeError: something else")
