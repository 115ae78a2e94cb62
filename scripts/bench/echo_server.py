"""NDJSON echo over stdio for bench/rpc.mjs, one flush per line.

Bare (default): each line is written back unchanged: the pipe baseline.
--jsonrpc: each request line comes back as its response, `"method":"...","params":` replaced by
`"result":` with a byte-level substitution (no JSON parsing), so the TypeScript client can be timed
against a peer that costs next to nothing.
"""

import re
import sys

METHOD_PARAMS = re.compile(rb'"method":"[^"]*","params":')


def main() -> None:
    read = sys.stdin.buffer.readline
    out = sys.stdout.buffer
    jsonrpc = "--jsonrpc" in sys.argv[1:]
    while True:
        line = read()
        if not line:
            return
        if jsonrpc:
            if b'"id"' not in line:
                continue  # notifications ($/cancelRequest, exit) get no reply
            line = METHOD_PARAMS.sub(b'"result":', line, count=1)
        out.write(line)
        out.flush()


if __name__ == "__main__":
    main()
