"""The one limit on text that reaches the manifest, and on JSON documents stored in it.

Every string the manifest stores (logical keys, tag keys and values, writer name and version,
git commit, tombstone reasons, experiment names, projection names, ...) is at most
`MAX_TEXT_CHARS` characters and holds no control characters (U+0000-U+001F, U+007F). Every JSON
document it stores (publish `params`, experiment definitions) is at most `MAX_JSON_BYTES` bytes
as UTF-8 JSON. A value over the limit is refused with `ValidationFailed` naming the field; nothing
is written. docs/store.md ("Limits") documents them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bridge.errors import ValidationFailed

__all__ = ["MAX_JSON_BYTES", "MAX_TEXT_CHARS", "check_json_size", "check_text"]

MAX_TEXT_CHARS = 1024
MAX_JSON_BYTES = 1 << 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_text(value: Any, field: str, *, allow_empty: bool = False, optional: bool = False) -> None:
    """Raises ValidationFailed naming `field` unless `value` is a string within the text limit."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a string", field=field, value=type(value).__name__)
    if not allow_empty and not value.strip():
        raise ValidationFailed(f"{field} must be a non-empty string", field=field)
    if len(value) > MAX_TEXT_CHARS:
        raise ValidationFailed(
            f"{field} is {len(value):,} characters; the limit for text stored in the manifest is {MAX_TEXT_CHARS}",
            field=field, length=len(value), limit=MAX_TEXT_CHARS,
        )
    m = _CONTROL.search(value)
    if m:
        raise ValidationFailed(
            f"{field} contains a control character (U+{ord(m.group()):04X} at position {m.start()}); "
            "text stored in the manifest may not hold control characters",
            field=field, position=m.start(),
        )


def check_json_size(obj: Any, field: str) -> str:
    """The JSON text of `obj` (sorted keys); raises ValidationFailed naming `field` when it is not
    JSON (NaN/Infinity included) or is over MAX_JSON_BYTES."""
    try:
        text = json.dumps(obj, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"{field} must be JSON (no NaN/Infinity): {exc}", field=field) from exc
    size = len(text.encode("utf-8"))
    if size > MAX_JSON_BYTES:
        raise ValidationFailed(
            f"{field} is {size:,} bytes of JSON; the limit for a JSON document stored in the manifest is "
            f"{MAX_JSON_BYTES:,} bytes", field=field, size=size, limit=MAX_JSON_BYTES,
        )
    return text
