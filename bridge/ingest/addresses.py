"""Token-address candidates in a message, their chain, and their validation.

A *candidate* is a string that looks like a contract address, with where it was found
(text | code | link | button) and a chain hint from the link it sat in. `validate()` turns a
candidate into either a valid address with a chain or a quarantine reason code:

    undecodable_base58  a strong-context candidate (code entity, explorer link path) with
                        characters outside the base58 alphabet (0 O I l)
    wrong_length        base58 that does not decode to exactly 32 bytes, or 0x-hex of a length
                        other than 40 in a strong context
    bad_evm_checksum    mixed-case 0x address failing EIP-55

Chain: a base58 address that decodes to 32 bytes is solana. An EVM address takes the chain of
the explorer/DEX link it appeared in (dexscreener.com/<chain>/, birdeye ?chain=, etherscan.io,
basescan.org, bscscan.com, ...), else chain words in the message (ethereum/eth/erc20, bsc/bnb,
"on base"/#base, arbitrum, polygon, avalanche) when they name exactly one chain, else unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from bridge.ingest.codecs import b58decode, is_eip55_valid

__all__ = ["FOUND_IN_ORDER", "Candidate", "Checked", "chain_from_url", "chain_from_words", "find_in_text",
           "find_in_url", "validate"]

FOUND_IN_ORDER = ("code", "text", "link", "button")  # when one address appears in several places

_B58_CHARS = "1-9A-HJ-NP-Za-km-z"
_B58_RE = re.compile(rf"(?<![A-Za-z0-9])[{_B58_CHARS}]{{32,44}}(?![A-Za-z0-9])")
_EVM_RE = re.compile(r"(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9a-zA-Z])")
# loose shapes, used only where an address is expected (code entities, link paths)
_ALNUM_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{32,44}(?![A-Za-z0-9])")
_HEXISH_RE = re.compile(r"(?<![A-Za-z0-9])0x[0-9a-fA-F]{36,44}(?![0-9a-zA-Z])")
_URL_RE = re.compile(r"https?://[^\s<>\"']+|(?<![\w.])(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|io|so|fun|org|ai|xyz|app|trade)/[^\s<>\"']*", re.I)

_CHAIN_SLUGS = {
    "solana": "solana", "sol": "solana",
    "ethereum": "ethereum", "eth": "ethereum", "ether": "ethereum",
    "base": "base",
    "bsc": "bsc", "bnb": "bsc", "bep20": "bsc",
    "arbitrum": "arbitrum", "arb": "arbitrum",
    "polygon": "polygon", "matic": "polygon",
    "avalanche": "avalanche", "avax": "avalanche",
    "optimism": "optimism", "op": "optimism",
    "blast": "blast", "linea": "linea", "zksync": "zksync", "sui": "sui", "ton": "ton", "tron": "tron",
}
# host (or host suffix) -> chain; None: the chain comes from the path or the query
_HOSTS: dict[str, str | None] = {
    "pump.fun": "solana", "solscan.io": "solana", "solana.fm": "solana", "raydium.io": "solana",
    "jup.ag": "solana", "photon-sol.tinyastro.io": "solana", "bullx.io": "solana", "rugcheck.xyz": "solana",
    "moonshot.money": "solana", "believe.app": "solana", "letsbonk.fun": "solana",
    "etherscan.io": "ethereum", "basescan.org": "base", "bscscan.com": "bsc", "arbiscan.io": "arbitrum",
    "polygonscan.com": "polygon", "snowtrace.io": "avalanche", "optimistic.etherscan.io": "optimism",
    "blastscan.io": "blast", "lineascan.build": "linea", "tronscan.org": "tron",
    "dexscreener.com": None, "birdeye.so": None, "gmgn.ai": None, "dextools.io": None,
    "geckoterminal.com": None, "defined.fi": None, "app.uniswap.org": None, "ave.ai": None,
}
_PATH_SLUGS = dict(_CHAIN_SLUGS, **{"ether": "ethereum", "bnb": "bsc", "arbitrum-one": "arbitrum", "avax": "avalanche"})

_WORDS = [
    (re.compile(r"\b(ethereum|eth|erc-?20)\b", re.I), "ethereum"),
    (re.compile(r"\b(bsc|bep-?20|binance\s+smart\s+chain|bnb\s+chain)\b|#bnb\b", re.I), "bsc"),
    (re.compile(r"\b(base\s*chain|on\s+base)\b|#base\b|\$base\b", re.I), "base"),
    (re.compile(r"\b(arbitrum)\b|#arb\b", re.I), "arbitrum"),
    (re.compile(r"\b(polygon)\b|#matic\b", re.I), "polygon"),
    (re.compile(r"\b(avalanche|avax)\b", re.I), "avalanche"),
]
EVM_CHAINS = {"ethereum", "base", "bsc", "arbitrum", "polygon", "avalanche", "optimism", "blast", "linea", "zksync"}


@dataclass(frozen=True)
class Candidate:
    value: str
    found_in: str            # text | code | link | button
    chain_hint: str | None   # from the link it sat in
    strong: bool             # an address was expected here (code entity, explorer link path)


@dataclass(frozen=True)
class Checked:
    address: str | None      # the valid address, or None
    kind: str | None         # "solana" | "evm" when valid
    reason: str | None       # quarantine reason code when invalid
    detail: str | None = None


def _host_chain(host: str) -> tuple[bool, str | None]:
    host = host.lower().removeprefix("www.")
    for known, chain in _HOSTS.items():
        if host == known or host.endswith("." + known):
            return True, chain
    return False, None


def chain_from_url(url: str) -> str | None:
    """The chain a DEX/explorer link names (host, first path segment or ?chain=), else None."""
    try:
        parts = urlsplit(url if "://" in url else "https://" + url)
    except ValueError:
        return None
    known, chain = _host_chain(parts.hostname or "")
    if not known:
        return None
    if chain:
        return chain
    query = parse_qs(parts.query)
    for q in query.get("chain", []) + query.get("chainId", []):
        if q.lower() in _PATH_SLUGS:
            return _PATH_SLUGS[q.lower()]
    for seg in [s for s in parts.path.split("/") if s][:2]:
        if seg.lower() in _PATH_SLUGS:
            return _PATH_SLUGS[seg.lower()]
    return None


def chain_from_words(text: str) -> str | None:
    """The one EVM chain the message names in words, else None (none or several)."""
    hits = {chain for rx, chain in _WORDS if rx.search(text)}
    return hits.pop() if len(hits) == 1 else None


def find_in_text(text: str, found_in: str) -> list[Candidate]:
    """Address-shaped strings in a text run. In a code entity the loose shapes count too."""
    strong = found_in == "code"
    out = [Candidate(m.group(0), found_in, None, strong) for m in _EVM_RE.finditer(text)]
    out += [Candidate(m.group(0), found_in, None, strong) for m in _B58_RE.finditer(text)]
    if strong:
        out += _loose(text, found_in, None, {c.value for c in out})
    return _unique(out)


def find_in_url(url: str, found_in: str) -> list[Candidate]:
    """Candidates in a URL: addresses anywhere in it; on a known DEX/explorer host, loose shapes in
    the path count too (an address was expected there)."""
    try:
        parts = urlsplit(url if "://" in url else "https://" + url)
        known, _ = _host_chain(parts.hostname or "")
    except ValueError:
        known = False
    hint = chain_from_url(url)
    out = [Candidate(m.group(0), found_in, hint, known) for m in _EVM_RE.finditer(url)]
    out += [Candidate(m.group(0), found_in, hint, known) for m in _B58_RE.finditer(url)]
    if known:
        out += _loose(parts.path, found_in, hint, {c.value for c in out})
    return _unique(out)


def find_urls(text: str) -> list[str]:
    return [m.group(0).rstrip(".,;:!?)]}") for m in _URL_RE.finditer(text)]


def _loose(text: str, found_in: str, hint: str | None, seen: set[str]) -> list[Candidate]:
    """Loose shapes (any alnum 32-44, 0x + 36-44 hex) where an address is expected."""
    out = []
    for rx in (_HEXISH_RE, _ALNUM_RE):
        for m in rx.finditer(text):
            v = m.group(0)
            if v not in seen and (rx is _HEXISH_RE or not v.startswith("0x")):
                out.append(Candidate(v, found_in, hint, True))
                seen.add(v)
    return out


def _unique(cands: list[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    out = []
    for c in cands:
        if c.value not in seen:
            seen.add(c.value)
            out.append(c)
    return out


def validate(value: str) -> Checked:
    """Check one candidate string: a valid Solana or EVM address, or a reason code."""
    if value[:2] in ("0x", "0X"):
        body = value[2:]
        if len(body) != 40:
            return Checked(None, None, "wrong_length", f"0x address has {len(body)} hex digits, expected 40")
        if not is_eip55_valid(value):
            return Checked(None, None, "bad_evm_checksum", "mixed-case address fails the EIP-55 checksum")
        return Checked(value, "evm", None)
    try:
        raw = b58decode(value)
    except ValueError as exc:
        return Checked(None, None, "undecodable_base58", str(exc))
    if len(raw) != 32:
        return Checked(None, None, "wrong_length", f"base58 decodes to {len(raw)} bytes, expected 32")
    return Checked(value, "solana", None)


def resolve_chain(kind: str, hints: list[str | None], text: str) -> str:
    """The chain of a valid address: see the module docstring for the order of evidence."""
    if kind == "solana":
        return "solana"
    linked = {h for h in hints if h in EVM_CHAINS}
    if len(linked) == 1:
        return linked.pop()
    if not linked:
        words = chain_from_words(text)
        if words:
            return words
    return "unknown"
