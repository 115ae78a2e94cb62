"""NDJSON echo over stdio for bench/rpc.mjs, the baselines of the RPC benchmark.

--decode (the benchmark's baseline): each line is decoded with msgspec into a JSON-RPC envelope
(jsonrpc, method, id, params kept raw), as the daemon must, then written back unchanged; one
write + flush per line, lines read with readline.
--decode --result FILE (information, not the baseline): the same, but the answer is a JSON-RPC
response whose result is FILE's JSON (e.g. the daemon's getArtifact result), so the client parses
a reply of the daemon's size: `{"jsonrpc":"2.0","id":<id>,"result":<FILE>}`.
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
    if "--result" in sys.argv[1:]:
        with open(sys.argv[sys.argv.index("--result") + 1], "rb") as f:
            result = f.read().strip()
        sized_replies(read, out, decode, result)
        return
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


def sized_replies(read, out, decode, result: bytes) -> None:
    """--decode --result: answer each line with `result` (its own loop: the baseline's stays as it was)."""
    import msgspec

    encode = msgspec.json.encode
    while True:
        line = read()
        if not line:
            return
        env = decode(line)
        out.write(b'{"jsonrpc":"2.0","id":' + encode(env.id) + b',"result":' + result + b"}\n")
        out.flush()


if __name__ == "__main__":
    main()
