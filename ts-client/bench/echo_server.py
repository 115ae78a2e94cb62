"""Bare NDJSON echo over stdio: each line read is written back unchanged, one flush per line.

The baseline of bench/rpc.mjs (used when scripts/bench/echo_server.py is not there).
"""

import sys


def main() -> None:
    read = sys.stdin.buffer.readline
    out = sys.stdout.buffer
    while True:
        line = read()
        if not line:
            return
        out.write(line)
        out.flush()


if __name__ == "__main__":
    main()
