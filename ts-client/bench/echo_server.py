"""NDJSON echo over stdio for bench/rpc.mjs, the baselines of the RPC benchmark.

--decode (the benchmark's baseline): each line is decoded with msgspec into a JSON-RPC envelope
(jsonrpc, method, id, params kept raw), as the daemon must, then written back unchanged; one
write + flush per line, lines read with readline.
Bare (no flag): each line is written back unchanged, no decoding (a floor, not a baseline).
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
    decode = None
    if "--decode" in sys.argv[1:]:
        import msgspec

        class Envelope(msgspec.Struct):
            jsonrpc: str
            method: str
            id: int | str | None = None
            params: msgspec.Raw = msgspec.Raw(b"")

        decode = msgspec.json.Decoder(Envelope).decode
    while True:
        line = read()
        if not line:
            return
        if decode is not None:
            decode(line)
        elif jsonrpc:
            if b'"id"' not in line:
                continue  # notifications ($/cancelRequest, exit) get no reply
            line = METHOD_PARAMS.sub(b'"result":', line, count=1)
        out.write(line)
        out.flush()


if __name__ == "__main__":
    main()
