"""`python -m bridge`: the CLI, and `serve` for the daemon. Logging goes to stderr only."""

from __future__ import annotations

import gc
import sys

# Start-up (imports, the parser) allocates many objects and frees few: cyclic collections there
# are wasted work, about a tenth of the daemon's cold start. Collection is turned back on once
# the command is parsed, by the daemon once its server is built (bridge.api.daemon.serve).
gc.disable()


def _msgspec_without_typing_extensions() -> None:
    """Imports msgspec with typing_extensions hidden: msgspec takes from it only what Python 3.11's
    typing has too (get_type_hints, Required, NotRequired), and falls back to typing without it
    (msgspec/_utils.py), while importing it is about a third of importing msgspec, ≈ 13 ms of a
    daemon start (bridge/store/filecheck.py's worker does the same). Later imports of
    typing_extensions, by any other library, load it as usual."""
    if "msgspec" in sys.modules or "typing_extensions" in sys.modules:
        return
    sys.modules["typing_extensions"] = None  # (an import of it raises ImportError)
    try:
        import msgspec  # noqa: F401
    finally:
        del sys.modules["typing_extensions"]


def main(argv: list[str] | None = None) -> int:
    _msgspec_without_typing_extensions()
    from bridge.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
