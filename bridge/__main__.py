"""`python -m bridge`: the CLI, and `serve` for the daemon. Logging goes to stderr only."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from bridge.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
