"""The UI's guard, as one ASGI middleware in front of every route (static files included):

- loopback only: the server binds 127.0.0.1 (server.py); here the `Host` header must name
  127.0.0.1 or localhost (with the server's port), so a DNS-rebinding page on another origin
  that resolves to 127.0.0.1 is refused;
- a random token, printed in the URL as Jupyter does, is required on every request: as
  `?token=`, as `Authorization: token …`, or as the HttpOnly SameSite=Strict cookie set the
  first time the token is seen (so the address bar can drop it);
- read-only: GET and HEAD everywhere, POST only on the routes that read (the SQL console);
- every response carries a restrictive Content-Security-Policy (nothing but this origin: no
  inline scripts or styles, no frames, no external fonts, scripts, images or connections) and
  `Referrer-Policy: no-referrer` so the token never leaves in a Referer header.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

__all__ = ["CSP", "Guard", "SECURITY_HEADERS"]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


class Guard:
    """ASGI middleware: Host check, token check, method check, security headers."""

    def __init__(self, app, *, token: str, port: int, post_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.token = token
        self.port = port
        self.cookie = f"bridge_ui_{port}"  # cookies ignore ports: one name per server
        self.post_paths = frozenset(post_paths)

    def allowed_hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}", "127.0.0.1", "localhost"})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # no websockets
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.allowed_hosts():
            await _plain(send, 403, "Host not allowed: open the UI at the 127.0.0.1 URL that `bridge ui` printed.\n")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get("token") or [None])[0]
        from_query = given is not None
        if given is None:
            auth = headers.get(b"authorization", b"").decode("latin-1")
            if auth.lower().startswith("token "):
                given = auth[6:].strip()
        if given is None and b"cookie" in headers:
            jar = SimpleCookie()
            try:
                jar.load(headers[b"cookie"].decode("latin-1"))
            except Exception:  # a malformed cookie header is just no token
                jar = SimpleCookie()
            if self.cookie in jar:
                given = jar[self.cookie].value
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            await _plain(send, 403, "A valid token is required: open the full URL (with ?token=…) that `bridge ui` "
                                    "printed.\n")
            return
        method = scope["method"]
        if method not in ("GET", "HEAD") and not (method == "POST" and scope["path"] in self.post_paths):
            await _plain(send, 405, "This UI is read-only.\n", extra=[(b"allow", b"GET, HEAD")])
            return
        set_cookie = None
        if from_query:
            set_cookie = (f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict").encode()

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                hs = [h for h in message.get("headers", []) if h[0].lower() not in _OURS]
                hs.extend(SECURITY_HEADERS)
                if set_cookie is not None:
                    hs.append((b"set-cookie", set_cookie))
                message = {**message, "headers": hs}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = frozenset(h for h, _ in SECURITY_HEADERS)


async def _plain(send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS, *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
