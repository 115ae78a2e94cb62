"""Deterministic sample data for the quickstart: a Telegram Desktop export and matching candles.

    .venv/bin/python scripts/make_sample_data.py OUT_DIR

Writes OUT_DIR/telegram/result.json, a whole-account export ("Export Telegram data", JSON) with
two call channels and a group over three days: calls naming Solana and EVM tokens in text, code
entities, links and buttons; chatter; service messages; forwarded, edited and reply posts; a
lookalike word and an address with a broken EIP-55 checksum (both must be quarantined, not
ingested). And OUT_DIR/candles.csv: 1-minute candles (random walks with a pump after each call)
for every called token, from a day before the first call to a day after the last one, in the
candle table's columns (token, chain, interval, ts, open, high, low, close, volume).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bridge.ingest.codecs import B58_ALPHABET, eip55_checksum  # noqa: E402

T0 = datetime(2026, 1, 20, 8, 0, tzinfo=timezone.utc)
LOCAL = timedelta(hours=2)  # the exporting machine's clock: `date` is local time without offset


def b58(raw: bytes) -> str:
    num, out = int.from_bytes(raw, "big"), ""
    while num:
        num, rem = divmod(num, 58)
        out = B58_ALPHABET[rem] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def solana(seed: str) -> str:
    return b58(hashlib.sha256(seed.encode()).digest())


def evm(seed: str) -> str:
    return eip55_checksum("0x" + hashlib.sha256(seed.encode()).hexdigest()[:40])


def message(mid: int, at: datetime, parts, *, sender: str, sender_id: str, **extra) -> dict:
    entities = [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in parts]
    text = [p if isinstance(p, dict) else p for p in parts]
    return {
        "id": mid, "type": "message", "date": (at + LOCAL).strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(int(at.timestamp())), "from": sender, "from_id": sender_id,
        "text": text if len(text) > 1 or isinstance(text[0], dict) else text[0], "text_entities": entities, **extra,
    }


def build(rng: random.Random) -> tuple[dict, list[tuple[str, str, datetime]]]:
    sol = [solana(f"sample-sol-{i}") for i in range(10)]
    eth = [evm(f"sample-eth-{i}") for i in range(3)]
    base = [evm(f"sample-base-{i}") for i in range(2)]
    calls: list[tuple[str, str, datetime]] = []
    chats = []
    for chat_id, name, kind in ((1700000001, "Alpha Calls", "public_channel"),
                                (1700000002, "Degen Signals", "private_channel"),
                                (1700000003, "Trenches Chat", "private_supergroup")):
        msgs, mid, at = [], 0, T0 + timedelta(minutes=rng.randint(0, 90))
        while at < T0 + timedelta(days=3):
            mid += 1
            r = rng.random()
            who = ("Max", "user5001") if kind != "private_supergroup" else rng.choice(
                [("kai", "user6001"), ("mia", "user6002"), ("zed", "user6003")])
            if r < 0.30:
                chain, token = rng.choice([("solana", rng.choice(sol)), ("ethereum", rng.choice(eth)),
                                           ("base", rng.choice(base))])
                style = rng.randrange(4)
                if style == 0:
                    parts = ["New call: ", {"type": "code", "text": token}, f" on {chain}, 3x target"]
                    extra = {}
                elif style == 1:
                    host = "https://dexscreener.com/solana/" if chain == "solana" else f"https://dexscreener.com/{chain}/"
                    parts = ["Aping this one ", {"type": "text_link", "text": "chart", "href": host + token}]
                    extra = {}
                elif style == 2:
                    parts = [f"CA: {token} ({chain}) LFG"]
                    extra = {}
                else:
                    parts = ["Buy before it runs"]
                    url = f"https://pump.fun/{token}" if chain == "solana" else f"https://basescan.org/token/{token}"
                    extra = {"inline_bot_buttons": [[{"type": "url", "text": "Buy", "data": url}]]}
                if kind == "public_channel":
                    extra["author"] = "Max"
                if rng.random() < 0.1:
                    extra["edited"] = (at + LOCAL + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S")
                    extra["edited_unixtime"] = str(int((at + timedelta(minutes=2)).timestamp()))
                if rng.random() < 0.1:
                    extra["forwarded_from"] = "Whale Room"
                msgs.append(message(mid, at, parts, sender=name if kind != "private_supergroup" else who[0],
                                    sender_id=f"channel{chat_id}" if kind != "private_supergroup" else who[1], **extra))
                calls.append((token, chain, at))
            elif r < 0.34:
                msgs.append({"id": mid, "type": "service", "date": (at + LOCAL).strftime("%Y-%m-%dT%H:%M:%S"),
                             "date_unixtime": str(int(at.timestamp())), "actor": name, "actor_id": f"channel{chat_id}",
                             "action": "pin_message", "message_id": mid - 1, "text": "", "text_entities": []})
            elif r < 0.36:
                bad = eth[0][:-1] + (eth[0][-1].swapcase() if eth[0][-1].isalpha() else "A")
                msgs.append(message(mid, at, [f"careful, fake CA going round: {bad}"], sender=who[0], sender_id=who[1]))
            elif r < 0.38:
                msgs.append(message(mid, at, ["Thequickbrownfoxjumpsoverthedogs is not a contract lol"],
                                    sender=who[0], sender_id=who[1]))
            else:
                chatter = rng.choice(["gm", "who's in?", "took profits at 2x", "market looks heavy today",
                                      "dev just renounced", "patience, it'll run", "anyone watching BTC?"])
                extra = {"reply_to_message_id": mid - 1} if rng.random() < 0.3 and mid > 1 else {}
                msgs.append(message(mid, at, [chatter], sender=who[0], sender_id=who[1], **extra))
            at += timedelta(minutes=rng.randint(10, 80))
        chats.append({"name": name, "type": kind, "id": chat_id, "messages": msgs})
    export = {
        "about": "Here is the data you requested. Remember: Telegram is ad free...",
        "personal_information": {"user_id": 1234, "first_name": "Quant", "last_name": "", "phone_number": "+0000"},
        "contacts": {"about": "", "list": []},
        "chats": {"about": "", "list": chats},
        "left_chats": {"about": "", "list": []},
    }
    return export, calls


def candles(calls: list[tuple[str, str, datetime]], rng: random.Random):
    start = min(at for _, _, at in calls).replace(hour=0, minute=0) - timedelta(days=1)
    end = max(at for _, _, at in calls).replace(hour=0, minute=0) + timedelta(days=2)
    by_token: dict[tuple[str, str], list[datetime]] = {}
    for token, chain, at in calls:
        by_token.setdefault((token, chain), []).append(at)
    minutes = int((end - start).total_seconds() // 60)
    for k, ((token, chain), times) in enumerate(sorted(by_token.items())):
        price = rng.uniform(0.0005, 2.0)
        # after each call: a pump or a dump of random strength and length
        moves = {}
        for t in times:
            at = int((t - start).total_seconds() // 60)
            drift = rng.uniform(0.001, 0.006) if rng.random() < 0.55 else rng.uniform(-0.005, -0.0005)
            for i in range(at, at + rng.randint(45, 240)):
                moves[i] = drift
        gap = range(minutes // 2, minutes // 2 + 45) if k == 0 else range(0)  # one outage of 45 min
        for i in range(minutes):
            o = price
            c = max(1e-9, o * (1 + moves.get(i, 0.0) + rng.gauss(0, 0.006)))
            h = max(o, c) * (1 + abs(rng.gauss(0, 0.003)))
            lo = min(o, c) * (1 - abs(rng.gauss(0, 0.003)))
            price = c
            if i in gap or rng.random() < 0.0002:
                continue  # missing candles: an outage and a rare single miss
            yield token, chain, "1m", (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"), o, h, lo, c, rng.uniform(10, 5000)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "samples")
    rng = random.Random(20260120)
    export, calls = build(rng)
    (out / "telegram").mkdir(parents=True, exist_ok=True)
    (out / "telegram" / "result.json").write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")
    with open(out / "candles.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["token", "chain", "interval", "ts", "open", "high", "low", "close", "volume"])
        for row in candles(calls, rng):
            w.writerow([f"{v:.10g}" if isinstance(v, float) else v for v in row])
    print(json.dumps({"export": str(out / "telegram" / "result.json"), "candles": str(out / "candles.csv"),
                      "calls": len(calls), "tokens": len({c[0] for c in calls})}))


if __name__ == "__main__":
    main()
