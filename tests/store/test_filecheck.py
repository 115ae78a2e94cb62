"""filecheck.check, verify's per-artifact work, against what its docstring says, written here
from hashlib and json alone: local reads (in chunks of a small _READ, so that sizes around and
beyond it are cheap) and streamed reads must agree with each other and with the reference."""

from __future__ import annotations

import hashlib
import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.store import filecheck

FIELDS = {"artifact_id": "a" * 32, "content_hash": "c" * 64, "row_count": 3, "logical_key": "k=v"}


def expected(body: bytes, recorded: str, sidecar: bytes) -> list[str]:
    if body[:4] != b"PAR1" or body[-4:] != b"PAR1" or len(body) < 12:
        return ["truncated"]
    out = ["file_hash_mismatch"] if hashlib.sha256(body).hexdigest() != recorded else []
    try:
        meta = json.loads(sidecar)
    except ValueError:
        return [*out, "corrupt_sidecar"]
    if not isinstance(meta, dict):
        return [*out, "corrupt_sidecar"]
    # (by JSON type too: true and 3.0 are not the row count 3, nor true the row count 1)
    if any(meta.get(k) != v or type(meta.get(k)) is not type(v) for k, v in {**FIELDS, "file_hash": recorded}.items()):
        out.append("sidecar_mismatch")
    return out


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 300), flip=st.one_of(st.none(), st.integers(0, 299)), magic=st.booleans(),
       side=st.sampled_from(["same", "other_key", "not_json", "array", "wrong_type", "float_count", "bool_count"]),
       data=st.data())
def test_check_finds_exactly_what_the_bytes_say(tmp_path_factory, size, flip, magic, side, data):
    body = bytearray(data.draw(st.binary(min_size=size, max_size=size)))
    if magic and size >= 8:
        body[:4] = body[-4:] = b"PAR1"
    recorded = hashlib.sha256(bytes(body)).hexdigest()
    if flip is not None and flip < size:
        body[flip] ^= 0xFF
    meta = {**FIELDS, "file_hash": recorded}
    sidecar = {"same": json.dumps(meta), "other_key": json.dumps({**meta, "logical_key": "x"}), "not_json": "{nope",
               "array": "[1]", "wrong_type": json.dumps({**meta, "row_count": "3"}),
               "float_count": json.dumps({**meta, "row_count": 3.0}), "bool_count": json.dumps({**meta, "row_count": True})}[side].encode()
    folder = tmp_path_factory.mktemp("f")
    (folder / "p").write_bytes(bytes(body))
    (folder / "s").write_bytes(sidecar)
    want = expected(bytes(body), recorded, sidecar)
    args = (str(folder / "p"), str(folder / "s"), recorded, *FIELDS.values())

    def stream(path):
        with open(path, "rb") as fh:
            while chunk := fh.read(64):
                yield chunk

    read, filecheck._READ = filecheck._READ, 64  # chunks of 64 bytes: files of 0-300 bytes cross it
    try:
        local_read, local = filecheck.check(*args)
        in_chunks = filecheck.check_many([args], start=5)  # (its shortcut, _intact, reads a file under _READ at once)
    finally:
        filecheck._READ = read
    streamed_read, streamed = filecheck.check(*args, chunks=stream)
    assert [k for k, *_ in local] == [k for k, *_ in streamed] == want, (local, streamed, want)
    assert local_read == (size >= 12) and streamed_read  # a local file under 12 bytes is judged by its size
    for unread, found in (in_chunks, filecheck.check_many([args], start=5)):
        assert found == [(5, *f) for f in local] and unread == ([] if local_read else [5])


def test_missing_and_owner_unreadable_files(tmp_path):
    body = b"PAR1" + b"\0" * 16 + b"PAR1"
    h = hashlib.sha256(body).hexdigest()
    (tmp_path / "p").write_bytes(body)
    (tmp_path / "s").write_text(json.dumps({**FIELDS, "file_hash": h}))
    args = [str(tmp_path / "p"), str(tmp_path / "s"), h, *FIELDS.values()]
    assert filecheck.check(*args) == (True, [])
    assert filecheck.check(str(tmp_path / "gone"), *args[1:]) == (False, [("missing_file", False, filecheck.PARQUET_GONE)])
    assert filecheck.check(args[0], str(tmp_path / "gone"), *args[2:]) == (False, [("missing_sidecar", True,
                                                                                      filecheck.SIDECAR_GONE)])
    (tmp_path / "short").write_bytes(b"PAR1")  # both findings, as a listing gives them
    assert [k for k, *_ in filecheck.check(str(tmp_path / "short"), str(tmp_path / "gone"), *args[2:])[1]] == [
        "truncated", "missing_sidecar"]
    os.chmod(tmp_path / "s", 0o200)
    try:  # as root the file can still be read; either way the mode is what is reported
        assert [(k, on_sidecar) for k, on_sidecar, _ in filecheck.check(*args)[1]] == [("unreadable", True)]
    finally:
        os.chmod(tmp_path / "s", 0o644)
    os.mkfifo(tmp_path / "fifo")  # not a file where one should be: no hang, and gone, as a listing says
    assert filecheck.check(str(tmp_path / "fifo"), *args[1:]) == (False, [("missing_file", False, filecheck.PARQUET_GONE)])
    assert filecheck.check(args[0], str(tmp_path / "fifo"), *args[2:]) == (False, [("missing_sidecar", True,
                                                                                       filecheck.SIDECAR_GONE)])
    assert filecheck.check(str(tmp_path), *args[1:])[1] == [("missing_file", False, filecheck.PARQUET_GONE)]  # a folder


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from("ab"), max_size=3), st.sampled_from(["f.parquet", "g.json", "h"]),
                          st.sampled_from(["file", "fifo", "link", "dir"])), max_size=12))
def test_a_names_listing_is_the_stats_listing_plus_odd_entries_of_leaf_folders(tree):
    """walk(stats=False) lists a folder below artifacts/ without subfolders by its names (os.listdir;
    where the file system keeps such link counts), others by their regular files: its keys are
    walk(stats=True)'s and the non-regular entries of leaf folders. A reference from os.walk +
    os.stat, written from that rule."""
    import stat
    import tempfile
    from pathlib import Path

    from bridge.store.artifact_fs import _COUNTED_LINKS, LocalArtifacts, _fs_type

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "artifacts"
        base.mkdir()
        for parts, name, kind in tree:
            folder = base.joinpath(*parts)
            folder.mkdir(parents=True, exist_ok=True)
            p = folder / name
            if p.exists() or p.is_symlink() or (p.is_dir()):
                continue
            if kind == "file":
                p.write_bytes(b"x")
            elif kind == "fifo":
                os.mkfifo(p)
            elif kind == "link":
                p.symlink_to("f.parquet")  # to a file there, dangling, or itself (a loop)
            else:
                p.mkdir()
        fs = LocalArtifacts(Path(tmp))
        regular, odd, counted = set(), set(), _fs_type(tmp) in _COUNTED_LINKS
        for dirpath, dirs, files in os.walk(base):
            rel = Path(dirpath).relative_to(tmp).as_posix()
            leaf = counted and dirpath != str(base) and os.stat(dirpath).st_nlink == 2  # (below artifacts/)
            for name in files:
                try:
                    is_file = stat.S_ISREG(os.stat(os.path.join(dirpath, name)).st_mode)
                except OSError:  # a dangling symlink, or one in a loop
                    is_file = False
                (regular if is_file else odd if leaf else set()).add(f"{rel}/{name}")
        with_stats, by_names = fs.walk("artifacts"), fs.walk("artifacts", stats=False)
        assert with_stats.keys() == regular
        assert by_names.keys() == regular | odd


def test_the_file_system_type_of_a_path_from_mountinfo():
    from bridge.store.artifact_fs import _fs_type, _mount_type

    text = "\n".join([
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        "30 22 0:5 / /data rw - xfs /dev/sdb rw",
        "31 30 0:6 / /data/nfs rw shared:2 master:3 - nfs4 host:/x rw",
        "32 22 0:7 / /my\\040lake rw - tmpfs tmpfs rw",
        "33 30 0:8 / /data rw - btrfs /dev/sdc rw",  # over /data: hides the xfs one
        "bad line",
    ])
    assert _mount_type("/home/me", text) == "ext4"
    assert _mount_type("/data/nfs/lake", text) == "nfs4"
    assert _mount_type("/data/nfsx", text) == "btrfs"  # (not inside /data/nfs)
    assert _mount_type("/data", text) == "btrfs"
    assert _mount_type("/my lake/artifacts", text) == "tmpfs"
    assert _mount_type("/x", "") is None
    assert _fs_type("/proc/self") in ("proc", None)  # (None where there is no /proc)


def test_a_sidecar_row_count_of_true_or_a_float_is_no_count_of_one(tmp_path):
    """Python's True == 1 and 1.0 == 1; JSON's true and 1.0 are no row count: a disagreement, on
    the quick path (all agree) and on the one that names the fields."""
    body = b"PAR1" + b"\0" * 16 + b"PAR1"
    h = hashlib.sha256(body).hexdigest()
    (tmp_path / "p").write_bytes(body)
    fields = {**FIELDS, "row_count": 1, "file_hash": h}
    args = [str(tmp_path / "p"), str(tmp_path / "s"), h, fields["artifact_id"], fields["content_hash"], 1, fields["logical_key"]]
    (tmp_path / "s").write_text(json.dumps(fields))
    assert filecheck.check(*args) == (True, [])
    for wrong in (True, 1.0):
        (tmp_path / "s").write_text(json.dumps({**fields, "row_count": wrong}))
        assert filecheck.check(*args) == (True, [("sidecar_mismatch", True, "sidecar disagrees with the manifest on row_count")])
        (tmp_path / "s").write_text(json.dumps({**fields, "row_count": wrong, "logical_key": "other"}))
        assert filecheck.check(*args)[1][0][2].endswith("on row_count, logical_key")


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.text("abz09_-.", min_size=1, max_size=6).filter(lambda p: p not in (".", "..")),
                      min_size=1, max_size=4), spell=st.lists(st.sampled_from(["dot", "double", "up"]), max_size=3),
       absolute=st.booleans())
def test_listed_as_names_a_file_as_the_listing_does_however_the_manifest_spells_it(tmp_path_factory, parts, spell,
                                                                                     absolute):
    """`listed_as` of a path spelled otherwise (`./`, `//`, `x/../` with a folder x, absolute or a
    URL into the store, or absolute through a symlink to the store's folder) is the name `walk`
    lists the file under; a spelling the OS cannot open as that file (`ghost/../` with no folder
    ghost, a trailing `/`), or a path outside the store, is no such name: it stays as it is."""
    from pathlib import Path

    from bridge.store.artifact_fs import LocalArtifacts, ObjectArtifacts

    rel = "/".join(["artifacts", *parts])
    segments = rel.split("/")
    for how in spell:  # between the first segment and the rest
        segments.insert(1, {"dot": ".", "double": "", "up": "x/.."}[how])
    odd = "/".join(segments)
    root = tmp_path_factory.mktemp("store")
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(b"")
    (root / "artifacts" / "x").mkdir(exist_ok=True)
    local = LocalArtifacts(root)
    assert local.listed_as(rel) == rel
    assert local.listed_as(f"{root}/{odd}" if absolute else odd) == rel
    for unopenable in (rel.replace("/", "/ghost/../", 1), rel + "/"):
        assert local.listed_as(unopenable) == unopenable
    outside = f"{root}/../elsewhere/{rel}"
    assert local.listed_as(outside) == outside
    # into the store by another route: through a symlink to its folder, or by the real path of a
    # store opened through one; a symlink to another folder with the same files is not the store
    link, twin = root.parent / f"{root.name}-link", root.parent / f"{root.name}-twin"
    link.symlink_to(root)
    (twin / rel).parent.mkdir(parents=True)
    (twin / rel).write_bytes(b"")
    assert local.listed_as(f"{link}/{odd}") == rel
    assert LocalArtifacts(link).listed_as(f"{root}/{odd}") == rel
    assert local.listed_as(f"{twin}/{rel}") == f"{twin}/{rel}"
    for unopenable in (f"{link}/{rel}".replace("/artifacts/", "/artifacts/ghost/../"), f"{link}/{rel}/",
                       f"{link}/{rel}\0", f"{rel}\0", f"/elsewhere/{rel}\0"):
        assert local.listed_as(unopenable) == unopenable
    # a symlink in the store keeps its own name by either route, as the listing has it
    alias = f"{rel}.alias"
    (root / alias).symlink_to((root / rel).name)
    assert local.listed_as(f"{link}/{alias}") == local.listed_as(f"{root}/{alias}") == alias
    bucket = ObjectArtifacts("s3://bucket/some/prefix", cache_dir=Path(root), staging_dir=Path(root))
    assert bucket.listed_as(rel) == rel
    assert bucket.listed_as(f"s3://bucket/some/prefix/{rel}" if absolute else f"/{rel}") == rel
    assert not bucket.listed_as(f"s3://other/{rel}").startswith("artifacts/")
    assert LocalArtifacts(Path("/")).listed_as(rel) == rel  # (a store at the file system's root: was cut short)


def test_check_many_says_what_check_says_of_every_fault(tmp_path, monkeypatch):
    """check_many's shortcut (`_intact`) passes only what `check` finds no fault in: every kind of
    damage to either file, crossed, each with the manifest's hash of the good bytes and of the bytes
    found (so that the magic, the size and the modes must be checked for themselves), gives
    check_many's findings = check's, and a clean pair none."""
    good = b"PAR1" + bytes(range(40)) + b"PAR1"
    bodies = {"clean": good, "flipped": good[:20] + b"\xff" + good[21:], "no_head": b"XAR1" + good[4:],
              "no_tail": good[:-4] + b"PAR2", "short": b"PAR1PAR1", "empty": b"", "big": b"PAR1" + b"\1" * 3000 + b"PAR1",
              "unreadable": good}
    (tmp_path / "s_gone").mkdir()  # (a folder where a sidecar should be)
    calls: list[str] = []
    check = filecheck.check
    monkeypatch.setattr(filecheck, "check", lambda *a: calls.append(a[0]) or check(*a))
    cases = 0
    for body_name, body in bodies.items():
        for recorded in {hashlib.sha256(good).hexdigest(), hashlib.sha256(body).hexdigest()}:
            meta = {**FIELDS, "file_hash": recorded}
            sidecars = {"clean": json.dumps(meta), **{f"wrong_{k}": json.dumps({**meta, k: "x"}) for k in meta},
                        "float_count": json.dumps({**meta, "row_count": 3.0}), "not_json": "{", "array": "[]",
                        "unreadable": json.dumps(meta), "gone": None, "folder": None}
            for side_name, side in sidecars.items():
                folder = tmp_path / f"{cases}"
                folder.mkdir()
                (folder / "p").write_bytes(body)
                if side is not None:
                    (folder / "s").write_text(side)
                for name, path in ((body_name, folder / "p"), (side_name, folder / "s")):
                    if name == "unreadable":
                        path.chmod(0o200)  # (root can still open it: check says so from its mode)
                sidecar = str(tmp_path / "s_gone") if side_name == "folder" else str(folder / "s")
                args = (str(folder / "p"), sidecar, recorded, *FIELDS.values())
                read, findings = filecheck.check(*args)
                calls.clear()
                assert filecheck.check_many([args], start=3) == ([] if read else [3], [(3, *f) for f in findings]), (
                    body_name, side_name, recorded)
                assert len(calls) == (findings != [] or not read)  # (check() only when the shortcut finds something)
                clean = (side_name == "clean" and body_name in ("clean", "flipped", "big")
                         and recorded == hashlib.sha256(body).hexdigest())  # (whole, readable, as recorded)
                assert (findings == []) == clean, (body_name, side_name, findings)
                cases += 1
    assert cases == 12 * sum(len({good, body}) for body in bodies.values())  # (the good bytes have one hash)


def test_check_many_stops_before_a_short_batch_when_asked(tmp_path):
    """stop() is asked before a batch's first task (and every 64th after it), whatever the index
    the batch starts at: a batch shorter than 64 is not checked once the caller gave up."""
    args = (str(tmp_path / "p"), str(tmp_path / "s"), "0" * 64, *FIELDS.values())  # (missing: a finding each)
    asked: list[int] = []
    assert filecheck.check_many([args] * 10, start=70, stop=lambda: asked.append(1) or True) == ([], [])
    assert asked == [1]
    unread, found = filecheck.check_many([args] * 130, start=70, stop=lambda: asked.append(1) or False)
    assert len(unread) == 130 and len(asked) == 1 + 3  # (before tasks 70, 134 and 198)
