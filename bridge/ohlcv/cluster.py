"""ClickHouse at team scale: the candle table on a cluster (`bridge ohlcv init-server --cluster`).

    CREATE DATABASE IF NOT EXISTS `db` ON CLUSTER `team`
    CREATE TABLE IF NOT EXISTS `db`.`candles_local` ON CLUSTER `team` (...)
      ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/candles_local', '{replica}')
      PARTITION BY toYYYYMM(ts) ORDER BY (token, chain, interval, ts)
    CREATE TABLE IF NOT EXISTS `db`.`candles` ON CLUSTER `team` AS `db`.`candles_local`
      ENGINE = Distributed(`team`, `db`, `candles_local`, cityHash64(token))

Every shard holds its replicas of `candles_local` (ReplicatedReplacingMergeTree: the replicated
member of the MergeTree family with the embedded table's dedup rule, so a re-loaded candle still
collapses under FINAL). `candles` is the Distributed table the bridge reads and writes; its
sharding key is the token, so all candles of a token live on one shard and FINAL, which runs per
shard, still sees every duplicate. `{shard}` and `{replica}` are the servers' own macros.
"""

from __future__ import annotations

import re

from bridge.errors import InvalidInput
from bridge.ohlcv.source import SourceConfig, _q, table_columns

__all__ = ["cluster_ddl"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def cluster_ddl(config: SourceConfig, cluster: str, *, database: str | None = None, local_suffix: str = "_local",
                zk_prefix: str = "/clickhouse/tables/{shard}") -> list[str]:
    """The statements that create the candle table on `cluster`, in order (all idempotent).

    `config.table` names the Distributed table (`db.name` or `name`; the database defaults to the
    DSN's, else `default`); the shards' table is the same name + `local_suffix`.

    Raises:
        InvalidInput: a cluster, database or suffix that is not a plain identifier.
    """
    if not _IDENT.match(cluster):
        raise InvalidInput(f"cluster {cluster!r} is not a plain identifier", field="cluster", value=cluster)
    if not re.match(r"^[A-Za-z0-9_]+$", local_suffix):
        raise InvalidInput(f"suffix {local_suffix!r} is not letters, digits and _", field="suffix", value=local_suffix)
    parts = config.table.split(".")
    db = parts[0] if len(parts) == 2 else (database or config.info.database or "default")
    if not _IDENT.match(db):
        raise InvalidInput(f"database {db!r} is not a plain identifier", field="database", value=db)
    name = parts[-1]
    local = f"{name}{local_suffix}"
    cols, key = table_columns(config)
    ts = _q(config.columns.ts)
    on = f"ON CLUSTER {_q(cluster)}"
    zk_path = f"{zk_prefix}/{db}/{local}".replace("'", "")
    return [
        f"CREATE DATABASE IF NOT EXISTS {_q(db)} {on}",
        f"CREATE TABLE IF NOT EXISTS {_q(db)}.{_q(local)} {on} ({cols}) "
        f"ENGINE = ReplicatedReplacingMergeTree('{zk_path}', '{{replica}}') "
        f"PARTITION BY toYYYYMM({ts}) ORDER BY ({key})",
        f"CREATE TABLE IF NOT EXISTS {_q(db)}.{_q(name)} {on} AS {_q(db)}.{_q(local)} "
        f"ENGINE = Distributed({_q(cluster)}, {_q(db)}, {_q(local)}, cityHash64({_q(config.columns.token)}))",
    ]
