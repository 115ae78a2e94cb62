"""Where artifact files live: a local folder (the embedded default) or an S3-compatible bucket,
behind one small interface, so the store, verify, gc and `lake copy` never ask which.

Files are named by `rel` paths as the manifest stores them (`artifacts/<type>/v<n>/<id[:2]>/<id>.parquet`,
relative to the artifact store's base; an absolute local path from an old manifest also works),
or by the `uri()` an Artifact carries.

    fs = artifact_fs_for(lake)                  # LocalArtifacts or ObjectArtifacts
    fs.put(tmp_file, rel, sha256=h)             # place a finished local file at its final key
    fs.read_table(artifact.path_parquet)        # through Arrow
    fs.local_path(rel, file_hash)               # a local file for DuckDB (a verified cached copy)

Object stores have no rename: `put` uploads to a unique staging key, reads it back and checks the
SHA-256, then copies it server-side to the final key. A crash leaves at most a staging key or an
unregistered final key (orphans: `gc --apply` removes them). A key that a manifest row names is
never overwritten (the publish journal gives one publisher per artifact id at a time).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from bridge.errors import ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from bridge.store.lake import Lake

__all__ = ["ArtifactFS", "FileStat", "LocalArtifacts", "ObjectArtifacts", "artifact_fs_for", "host_id"]

_CHUNK = 8 << 20
STAGING_MAX_AGE_S = 3600.0  # a staging key of another host is an orphan after this long


def host_id() -> str:
    """This machine's name in publish journals and staging keys (QUANTBOT_HOST_ID overrides the
    hostname: containers that share one, and tests that play two machines)."""
    return os.environ.get("QUANTBOT_HOST_ID") or socket.gethostname()


class FileStat(NamedTuple):
    """What a listing says about one file (verify reads no file for these)."""

    size: int | None  # None: not known (NOT_STATTED)
    mode: int | None  # POSIX mode bits; None in a bucket (no modes there)
    changed_ns: int | None  # last change (local: the later of mtime and ctime; a bucket: last-modified), ns


NOT_STATTED = FileStat(None, None, None)  # listed, nothing else known (walk(stats=False))


def listing_of(folders: Iterable[tuple[str, list[str]]]) -> dict[str, FileStat]:
    """`walk(stats=False)`'s answer from a names listing's (folder, names) pairs (`LocalArtifacts.folders`)."""
    out: dict[str, FileStat] = {}
    for rel, names in folders:
        out.update(dict.fromkeys([f"{rel}/{name}" for name in names], NOT_STATTED))
    return out


class ArtifactFS:
    """The interface; see the module docstring."""

    url: str
    remote: bool = False

    def uri(self, ref: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def key(self, ref: str) -> str:
        """A canonical name to compare files by (orphan detection)."""
        return self.uri(ref)

    def listed_as(self, ref: str) -> str:
        """The name `walk` lists `ref`'s file under, for a ref the manifest spells otherwise (a
        folder's: an absolute path into it, `./`, `//`, `x/../`, when the OS opens that spelling as
        that very file; a bucket's: its `s3://` URL or a leading `/`); else `ref` as it is."""
        return ref

    def exists(self, ref: str) -> bool:
        return self.size(ref) is not None

    def size(self, ref: str) -> int | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def delete(self, ref: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def open_input(self, ref: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def open_stream(self, ref: str):
        """A sequential reader (`read(n)`, a context manager): hashing and sidecars."""
        return self.open_input(ref)

    def read_bytes(self, ref: str) -> bytes:
        with self.open_stream(ref) as fh:
            return fh.read()

    def chunks(self, ref: str) -> Iterator[bytes]:
        """A file's bytes, a chunk at a time (verify's re-hash)."""
        with self.open_stream(ref) as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk

    def walk(self, under: str = "artifacts", *, stats: bool = True) -> dict[str, FileStat]:
        """{ref (as the manifest names files): FileStat} of every file under `under`, from one
        listing (no file opened). stats=False: a store may leave the values `NOT_STATTED`."""
        raise NotImplementedError  # pragma: no cover

    def write_bytes(self, ref: str, data: bytes) -> None:  # pragma: no cover - abstract
        """Write a file in place (tests that damage a lake, and `lake copy` of odd files only)."""
        raise NotImplementedError

    def sha256(self, ref: str) -> str:
        h = hashlib.sha256()
        with self.open_input(ref) as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        return h.hexdigest()

    def head_tail(self, ref: str, n: int = 4) -> tuple[int, bytes, bytes]:
        """(size, first n bytes, last n bytes)."""
        with self.open_input(ref) as fh:
            size = fh.size()
            head = fh.read(n)
            fh.seek(max(0, size - n))
            return size, head, fh.read(n)

    def read_table(self, ref: str, columns=None):
        import pyarrow.parquet as pq

        with self.open_input(ref) as fh:
            return pq.read_table(fh, columns=list(columns) if columns else None)

    def put(self, src: Path, rel: str, *, sha256: str | None = None, replace: bool = True) -> bool:
        """Place the local file `src` at `rel`. replace=False keeps an existing file (returns False).
        `src` is left in place for the caller to remove."""
        raise NotImplementedError  # pragma: no cover

    def list_keys(self, under: str = "artifacts") -> Iterator[str]:
        """Keys of every file under `under` (recursively)."""
        raise NotImplementedError  # pragma: no cover

    def remove_staging_leftovers(self, is_dead) -> int:
        """Remove staging files of dead publishers; `is_dead(host, pid)`. Returns how many."""
        return 0

    def local_path(self, ref: str, file_hash: str | None = None) -> Path:
        """A local file with these bytes (DuckDB reads local files)."""
        raise NotImplementedError  # pragma: no cover

    def ensure(self) -> None:
        """Create the folder or the bucket (`bridge init`)."""


def _is_file(entry: os.DirEntry) -> bool:
    """A regular file, or a symlink to one (a symlink in a loop is neither: not an error)."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _no_subfolders(entry: os.DirEntry, dev: int) -> bool:
    """A folder on file system `dev` whose link count says it has no subfolders (see `LocalArtifacts.folders`)."""
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    return st.st_nlink == 2 and st.st_dev == dev


# File systems whose folders keep a link count of 2 + one per subfolder (GNU find trusts these too)
_COUNTED_LINKS = frozenset({"ext2", "ext3", "ext4", "xfs", "tmpfs"})


def _fs_type(path: str) -> str | None:
    """The type of the file system `path` is on (Linux: /proc/self/mountinfo), else None."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            return _mount_type(os.path.realpath(path), fh.read())
    except OSError:
        return None


def _mount_type(real: str, mountinfo: str) -> str | None:
    """The file system type of the mount that holds the absolute path `real`, from the text of a
    mountinfo file (proc(5): the mount point is the 5th field, with octal escapes for spaces and
    such; the type is the first field after " - "). Of the longest mount points that hold it, the
    last wins (a later mount over the same point hides the earlier)."""
    best, kind = -1, None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split(" ")
        if not sep or len(fields) < 5 or not right.strip():
            continue
        mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
        inside = real == mount or real.startswith(mount if mount.endswith("/") else mount + "/")
        if inside and len(mount) >= best:
            best, kind = len(mount), right.split()[0]
    return kind


class LocalArtifacts(ArtifactFS):
    """Files under a local folder: fsync'd atomic renames and hard links."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.url = str(self.base)

    def _p(self, ref: str) -> Path:
        return self.base / ref  # an absolute ref stays as it is

    def uri(self, ref: str) -> str:
        # = str(self._p(ref)) without a Path per call (pages of 100 artifacts)
        return os.path.join(self.url, ref) if ref else self.url

    def key(self, ref: str) -> str:
        return str(self._p(ref).resolve())

    def listed_as(self, ref: str) -> str:
        root = os.path.normpath(self.url)  # (symlinks not resolved: walk does not follow them either)
        full = os.path.normpath(os.path.join(root, ref))
        prefix = root.rstrip("/") + "/"
        if not full.startswith(prefix):
            return self._linked(root, ref)  # outside the store, or into it by another route
        name = full[len(prefix):]
        if name != ref:
            # normpath is text: it drops `a/../` where `a` is missing or a symlink, and a trailing
            # `/`, which the OS does not; so the spelling names the file only if it opens as it
            try:
                if not os.path.samefile(os.path.join(root, ref), full):
                    return ref
            except (OSError, ValueError):  # (not there, or a NUL in the path)
                return ref
        return name

    def _linked(self, root: str, ref: str) -> str:
        """An absolute `ref` into the store by another route (through a symlink to the store's
        folder, or by the real path of a store opened through one): found by the ancestor of its
        path that is the store's folder (nothing below it resolved: a symlinked file or folder in
        the store keeps its name, as in the listing), then named as its path from there is; else
        `ref`."""
        try:
            here = os.stat(root)
            head, below = os.path.join(root, ref), []  # (the OS resolves each ancestor as it would the path)
            while True:
                head, tail = os.path.split(head)
                if not tail:
                    return ref  # no ancestor is the store's folder (or `ref` ends in `/`)
                below.append(tail)
                st = os.stat(head)
                if st.st_ino == here.st_ino and st.st_dev == here.st_dev:
                    # the name from there, as the listing has it (`./`, `x/../` below the store
                    # checked as there), if that opens as this very file
                    name = self.listed_as("/".join(reversed(below)))
                    return name if os.path.samefile(os.path.join(root, name), os.path.join(root, ref)) else ref
        except (OSError, ValueError):  # a folder on the way is missing (no such file), or a NUL in the path
            return ref

    def size(self, ref: str) -> int | None:
        p = self._p(ref)
        return p.stat().st_size if p.is_file() else None

    def delete(self, ref: str) -> None:
        self._p(ref).unlink(missing_ok=True)

    def open_input(self, ref: str):
        import pyarrow as pa

        return pa.OSFile(str(self._p(ref)), "rb")

    def open_stream(self, ref: str):
        return open(self._p(ref), "rb", buffering=0)  # noqa: SIM115 - the caller closes it

    def walk(self, under: str = "artifacts", *, stats: bool = True) -> dict[str, FileStat]:
        """From os.scandir (no per-file path resolution, each file statted as its folder is read);
        stats=False: the names alone (`folders`), each with `NOT_STATTED`."""
        if not stats:
            return listing_of(self.folders(under))
        out: dict[str, FileStat] = {}
        stack = [(str(self._p(under)), under.rstrip("/"))]
        while stack:
            path, rel = stack.pop()
            try:
                entries = os.scandir(path)
            except OSError:
                continue
            with entries:
                for e in entries:
                    r = f"{rel}/{e.name}"
                    if e.is_dir(follow_symlinks=False):
                        stack.append((e.path, r))
                    elif _is_file(e):  # (the file type comes with the name; the stat below is for size, mode, times)
                        st = e.stat()
                        out[r] = FileStat(st.st_size, st.st_mode, max(st.st_mtime_ns, st.st_ctime_ns))
        return out

    def folders(self, under: str = "artifacts") -> Iterator[tuple[str, list[str]]]:
        """(ref of a folder, the names of its regular files, or symlinks to one: the file type comes
        with the name, no stat) for every folder under `under`. A folder below it without
        subfolders is read by os.listdir, whose bare names cost a fraction of scandir's entries
        (the kernel's part is the same). Such a folder is known by its link count of 2 (itself and
        its name in its parent; each subfolder adds one), on the file systems known to keep that
        count (`_COUNTED_LINKS`), as GNU find's leaf optimisation knows them; on others (btrfs,
        NFS, overlayfs, FUSE…), and across a mount, every folder is scanned entry by entry. Its
        names are then all taken as files: a FIFO or a socket there is listed too."""
        root = str(self._p(under))
        try:
            dev = os.stat(root).st_dev if _fs_type(root) in _COUNTED_LINKS else None
        except OSError:
            dev = None
        stack = [(root, under.rstrip("/"), False)]
        while stack:
            path, rel, leaf = stack.pop()
            try:
                if leaf:
                    yield rel, os.listdir(path)
                    continue
                entries = os.scandir(path)
            except OSError:
                continue
            names = []
            with entries:
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        stack.append((e.path, f"{rel}/{e.name}", dev is not None and _no_subfolders(e, dev)))
                    elif _is_file(e):
                        names.append(e.name)
            yield rel, names

    def write_bytes(self, ref: str, data: bytes) -> None:
        p = self._p(ref)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def sha256(self, ref: str) -> str:
        from bridge.store.files import sha256_file

        return sha256_file(self._p(ref))

    def read_table(self, ref: str, columns=None):
        import pyarrow.parquet as pq

        return pq.read_table(self._p(ref), columns=list(columns) if columns else None)

    def put(self, src: Path, rel: str, *, sha256: str | None = None, replace: bool = True) -> bool:
        import errno

        dst = self._p(rel)
        tmp = src.with_name(f"{src.name}.{uuid.uuid4().hex[:8]}.link")
        os.link(src, tmp)  # src stays for the caller, like an upload
        try:
            try:
                return self._place(tmp, dst, replace)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
            # the artifact folder is on another file system (a shared mount): an fsync'd copy next
            # to the final name, then the same atomic step (a crash leaves a hidden orphan gc removes)
            import shutil

            from bridge.store import files

            near = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
            try:
                shutil.copyfile(src, near)
                files.fsync_file(near)
                files.make_read_only(near)
                return self._place(near, dst, replace)
            finally:
                near.unlink(missing_ok=True)
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _place(tmp: Path, dst: Path, replace: bool) -> bool:
        from bridge.store import files

        if replace:
            files.atomic_move(tmp, dst)  # same id -> same content: replacing an unregistered file is harmless
            return True
        return files.place_if_absent(tmp, dst)

    def list_keys(self, under: str = "artifacts") -> Iterator[str]:
        root = self._p(under)
        if not root.exists():
            return
        for p in sorted(root.rglob("*")):
            if p.is_file():
                yield str(p.resolve())

    def local_path(self, ref: str, file_hash: str | None = None) -> Path:
        return self._p(ref)


class ObjectArtifacts(ArtifactFS):
    """Files in an S3-compatible bucket through pyarrow.fs: `s3://bucket/prefix`. Credentials come
    from the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws);
    `endpoint` is the S3 endpoint of a non-AWS server (http://host:port or https://…)."""

    remote = True

    def __init__(self, url: str, *, endpoint: str | None = None, region: str | None = None,
                 cache_dir: Path, staging_dir: Path) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValidationFailed("an object-store artifact URL is s3://bucket/prefix", field="artifacts", value=url)
        self.url = url.rstrip("/")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.endpoint = endpoint
        self.region = region
        self.cache_dir = cache_dir
        self.staging_dir = staging_dir
        self._fs = None

    @property
    def fs(self):
        if self._fs is None:
            self._fs = s3_filesystem(self.endpoint, self.region)
        return self._fs

    def _k(self, ref: str) -> str:
        if ref.startswith("s3://"):
            return ref[5:]
        return "/".join(p for p in (self.bucket, self.prefix, ref.lstrip("/")) if p)

    def uri(self, ref: str) -> str:
        return "s3://" + self._k(ref)

    def listed_as(self, ref: str) -> str:
        key, base = self._k(ref), self._k("")
        return key[len(base) + 1:] if base and key.startswith(base + "/") else key

    def size(self, ref: str) -> int | None:
        from pyarrow.fs import FileType

        info = self.fs.get_file_info(self._k(ref))
        return info.size if info.type == FileType.File else None

    def delete(self, ref: str) -> None:
        try:
            self.fs.delete_file(self._k(ref))
        except FileNotFoundError:
            pass

    def open_input(self, ref: str):
        return self.fs.open_input_file(self._k(ref))

    def open_stream(self, ref: str):
        return self.fs.open_input_stream(self._k(ref))

    def walk(self, under: str = "artifacts", *, stats: bool = True) -> dict[str, FileStat]:
        from pyarrow.fs import FileSelector, FileType

        base = self._k("")
        out: dict[str, FileStat] = {}
        for info in self.fs.get_file_info(FileSelector(self._k(under), recursive=True, allow_not_found=True)):
            if info.type == FileType.File:
                changed = info.mtime_ns if info.mtime_ns is not None else 0
                if changed % 1_000_000_000 == 0:  # whole seconds (some servers): the end of that second
                    changed += 999_999_999
                out[info.path[len(base) + 1:] if base else info.path] = FileStat(info.size, None, changed)
        return out

    def write_bytes(self, ref: str, data: bytes) -> None:
        with self.fs.open_output_stream(self._k(ref)) as out:
            out.write(data)

    def ensure(self) -> None:
        from pyarrow.fs import FileType

        if self.fs.get_file_info(self.bucket).type == FileType.NotFound:
            self.fs.create_dir(self.bucket)

    def _upload(self, src: Path, key: str) -> None:
        with open(src, "rb") as fh, self.fs.open_output_stream(key) as out:
            while chunk := fh.read(_CHUNK):
                out.write(chunk)

    def put(self, src: Path, rel: str, *, sha256: str | None = None, replace: bool = True) -> bool:
        from bridge.store.files import sha256_file

        final = self._k(rel)
        if not replace and self.size(rel) is not None:
            return False
        expected = sha256 or sha256_file(src)
        size = src.stat().st_size
        staging = self._k(f"staging/{host_id()}-{os.getpid()}-{uuid.uuid4().hex}{Path(rel).suffix}")
        try:
            self._upload(src, staging)
            self._check(staging, size, expected, "the upload")
            if self.size(rel) is not None:
                if self.sha256(rel) == expected:
                    return True  # an earlier attempt of this very publish left the same bytes
                if not replace:
                    return False
                # unregistered bytes of a crashed publisher of this id (we hold its journal row)
                self.fs.delete_file(final)
            self.fs.copy_file(staging, final)
            if self.size(rel) != size:
                raise OSError(f"the object store kept {self.size(rel)} bytes at {self.uri(rel)}, expected {size}")
            return True
        finally:
            try:
                self.fs.delete_file(staging)
            except (FileNotFoundError, OSError):
                pass

    def _check(self, key: str, size: int, sha: str, what: str) -> None:
        got = self.sha256("s3://" + key)
        if got != sha:
            raise OSError(f"{what} to s3://{key} was damaged on the way: sha256 {got} != {sha}")

    def list_keys(self, under: str = "artifacts") -> Iterator[str]:
        from pyarrow.fs import FileSelector, FileType

        sel = FileSelector(self._k(under), recursive=True, allow_not_found=True)
        for info in sorted(self.fs.get_file_info(sel), key=lambda i: i.path):
            if info.type == FileType.File:
                yield "s3://" + info.path

    def remove_staging_leftovers(self, is_dead) -> int:
        from pyarrow.fs import FileSelector, FileType

        sel = FileSelector(self._k("staging"), recursive=True, allow_not_found=True)
        removed = 0
        now = time.time()
        for info in self.fs.get_file_info(sel):
            if info.type != FileType.File:
                continue
            parts = info.base_name.rsplit(".", 1)[0].rsplit("-", 2)  # <host>-<pid>-<uuid>
            host, pid = (parts[0], parts[1]) if len(parts) == 3 else ("", "")
            old = info.mtime is not None and now - info.mtime.timestamp() > STAGING_MAX_AGE_S
            if old or (pid.isdigit() and is_dead(host, int(pid))):
                self.delete("s3://" + info.path)
                removed += 1
        return removed

    def local_path(self, ref: str, file_hash: str | None = None) -> Path:
        """A verified local copy in the lake's cache (disposable: ids are immutable, so a cached
        copy never goes stale). The download is checked against `file_hash` before it is used."""
        from bridge.store import files

        key = self._k(ref)
        dst = self.cache_dir / "objects" / key
        if dst.is_file():
            return dst
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f"{dst.name}.{uuid.uuid4().hex}.part")
        try:
            with self.open_input(ref) as src, open(tmp, "wb") as out:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
            if file_hash is not None and files.sha256_file(tmp) != file_hash:
                raise OSError(f"{self.uri(ref)} does not have the bytes the manifest names; run `bridge verify`")
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        return dst


def s3_filesystem(endpoint: str | None, region: str | None):
    """pyarrow's S3FileSystem for an endpoint URL (None: AWS itself); credentials from the AWS chain."""
    from pyarrow import fs as pafs

    kw = {}
    if endpoint:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.netloc:
            raise ValidationFailed("the S3 endpoint is http(s)://host:port", field="s3_endpoint", value=endpoint)
        kw.update(endpoint_override=ep.netloc, scheme=ep.scheme)
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        kw.update(access_key=key, secret_key=secret, session_token=os.environ.get("AWS_SESSION_TOKEN"))
    return pafs.S3FileSystem(region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                             or "us-east-1", allow_bucket_creation=True, **kw)


def artifact_fs_for(lake: "Lake") -> ArtifactFS:
    url = lake.artifacts_url
    if url.startswith("s3://"):
        return ObjectArtifacts(url, endpoint=lake.s3_endpoint, region=lake.s3_region,
                               cache_dir=lake.cache, staging_dir=lake.staging)
    if "://" in url and not url.startswith("file://"):
        raise ValidationFailed("the artifact store is a local path or s3://bucket/prefix", field="artifacts", value=url)
    return LocalArtifacts(Path(url.removeprefix("file://")))
