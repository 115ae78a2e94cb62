"""`python -m bridge`: the CLI, and `serve` for the daemon. Logging goes to stderr only."""

from __future__ import annotations

import gc
import sys

# Start-up (imports, the parser) allocates many objects and frees few: cyclic collections there
# are wasted work, about a tenth of the daemon's cold start. Collection is turned back on once
# the command is parsed, by the daemon once its server is built (bridge.api.daemon.serve).
gc.disable()


def main(argv: list[str] | None = None) -> int:
    from bridge.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
