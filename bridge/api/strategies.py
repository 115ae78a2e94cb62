"""Strategy methods on the wire: importStrategies, publishStrategy, listStrategies, getStrategy.

Strategies are `strategy` artifacts (bridge.experiments.strategies); their fields are the one
declaration bridge.experiments.strategy.StrategyConfig, which also types `config.strategy` of an
experiment definition. Handlers are thin and import the domain inside.
"""

from __future__ import annotations

from typing import Any

from bridge.api._method import Method, Wire
from bridge.errors import ArtifactNotFound, InvalidInput, ValidationFailed
from bridge.experiments.strategies import ImportResult, StrategyRef
from bridge.experiments.strategy import StrategyConfig

__all__ = ["DECLARATIONS", "METHODS", "GetStrategyParams", "ImportStrategiesParams", "ListStrategiesResult",
           "PublishStrategyParams"]


class ImportStrategiesParams(Wire):
    """A scenario file of the researchers' simulator: `path` to the JSON file, or the parsed
    `scenarios` object itself (one scenario, or `{version, global: {defaults}, scenarios: [...]}`)."""

    path: str | None = None
    scenarios: Any = None


class PublishStrategyParams(Wire):
    strategy: StrategyConfig


class ListStrategiesParams(Wire):
    limit: int = 1000


class ListStrategiesResult(Wire):
    strategies: list[StrategyRef]


class GetStrategyParams(Wire):
    artifact_id: str


def _strategies(ctx):
    from bridge.experiments.strategies import Strategies

    return Strategies(ctx.store)


def import_strategies(ctx, params: ImportStrategiesParams) -> ImportResult:
    if (params.path is None) == (params.scenarios is None):
        raise ValidationFailed("give either path or scenarios", column="path")
    if params.path is not None:
        return _strategies(ctx).import_file(params.path)
    return _strategies(ctx).import_data(params.scenarios)


def publish_strategy(ctx, params: PublishStrategyParams) -> StrategyRef:
    return _strategies(ctx).publish(params.strategy)


def list_strategies(ctx, params: ListStrategiesParams) -> ListStrategiesResult:
    if not 1 <= params.limit <= 10_000:
        raise ValidationFailed("limit must be between 1 and 10000", column="limit", value=params.limit)
    return ListStrategiesResult(strategies=_strategies(ctx).list(limit=params.limit))


def get_strategy(ctx, params: GetStrategyParams) -> StrategyRef:
    return _strategies(ctx).ref(params.artifact_id)


DECLARATIONS: list[dict[str, Any]] = [
    dict(name="importStrategies", params=ImportStrategiesParams, result=ImportResult,
         errors=(ValidationFailed,), handler=import_strategies, long_running=False,
         doc="Turn a scenario file of the researchers' simulator into strategy artifacts (one per scenario, "
             "same strategy → same artifact). Unknown fields are refused with their path; each strategy lists "
             "the fields that map with a different rule."),
    dict(name="publishStrategy", params=PublishStrategyParams, result=StrategyRef, errors=(ValidationFailed,),
         handler=publish_strategy, long_running=False,
         doc="Publish one strategy as a content-addressed strategy artifact (idempotent)."),
    dict(name="listStrategies", params=ListStrategiesParams, result=ListStrategiesResult,
         errors=(ValidationFailed,), handler=list_strategies, long_running=False,
         doc="Active strategy artifacts, by name."),
    dict(name="getStrategy", params=GetStrategyParams, result=StrategyRef, errors=(ArtifactNotFound, InvalidInput),
         handler=get_strategy, long_running=False, doc="One strategy artifact with its strategy."),
]

METHODS = [Method(**d) for d in DECLARATIONS]
