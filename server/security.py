"""Who is asking, decided from the Authorization header before any byte of the body is read.

Users: `PAPERCHAT_API_KEY` (the default user, who shares chat sessions with the CLI and the
TUI), and named users from `PAPERCHAT_API_KEYS` / `PAPERCHAT_API_KEYS_FILE`, each with
their own sessions. `PAPERCHAT_ADMIN_KEY` guards ingest only. Without any user key the
/v1 routes are open (the default user). Keys are compared in constant time and never
logged or echoed; the user's name is what the rest of the server sees.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.errors import ConfigError
from rag.settings import Settings
from server.errors import reject

SCOPE_KEY = "paperchat.user"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class User:
    """The caller. `name` None is the default user (single key, or no key configured)."""

    name: str | None = None
    admin: bool = False


def key_matches(given: str | None, key: SecretStr) -> bool:
    """Constant-time comparison of the presented bearer token with `key`."""
    return hmac.compare_digest((given or "").encode("utf-8"),
                               key.get_secret_value().encode("utf-8"))


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_keys_file(path: Path) -> dict[str, SecretStr]:
    """`<user> <key>` per line; blank lines and `#` comments skipped. ConfigError names the
    line of a malformed entry, never its key."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the API keys file ({type(e).__name__})") from e
    keys: dict[str, SecretStr] = {}
    for number, line in enumerate(lines, 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ConfigError(f"{path}:{number}: expected `<user> <key>`")
        if fields[0] in keys:
            raise ConfigError(f"{path}:{number}: user {fields[0]!r} is listed twice")
        keys[fields[0]] = SecretStr(fields[1])
    return keys


class KeyRing:
    """The configured keys and what each one may do."""

    def __init__(self, settings: Settings) -> None:
        named = dict(settings.api_keys)
        if settings.api_keys_file is not None:
            for name, key in read_keys_file(settings.api_keys_file).items():
                if name in named:
                    raise ConfigError(f"user {name!r} has a key in both PAPERCHAT_API_KEYS "
                                      "and the API keys file")
                named[name] = key
        users: list[tuple[User, SecretStr]] = [(User(name), key) for name, key in named.items()]
        if settings.api_key is not None:
            users.append((User(None), settings.api_key))
        values = [key.get_secret_value() for _, key in users]
        if any(not v for v in values):
            raise ConfigError("an API key is empty")
        if len(set(values)) != len(values):
            raise ConfigError("two users have the same API key; each user needs their own")
        self.admin = settings.admin_key
        if self.admin is not None and self.admin.get_secret_value() in values:
            raise ConfigError("the admin key must differ from every user's API key")
        self.users = users
        self.loopback = is_loopback(settings.server.host)

    @property
    def open(self) -> bool:
        """No user key is configured: /v1 answers anyone, as the default user."""
        return not self.users

    def user(self, token: str | None) -> User | None:
        """The user whose key this is, else None (every key is compared, in constant time)."""
        found = None
        for user, key in self.users:
            if key_matches(token, key) and found is None:
                found = user
        return found

    def admin_user(self, token: str | None) -> User | None:
        return User(admin=True) if self.admin and key_matches(token, self.admin) else None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def _has_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return headers.get(b"content-length", b"0") not in (b"0", b"") or \
        b"transfer-encoding" in headers


class Authenticate:
    """Pure ASGI middleware: /v1 requests without a valid key are answered 401 (or 403)
    from their headers alone. The body is never read, and the connection is closed rather
    than drained, so a large unauthenticated upload costs neither parsing nor memory."""

    def __init__(self, app: ASGIApp, keys: KeyRing) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/v1" or path.startswith("/v1/")):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        user, status, message = self._decide(path, token)
        if user is None:
            headers = dict(_CHALLENGE) if status == 401 else {}
            if _has_body(scope):
                headers["Connection"] = "close"
            await reject(scope, status, message, headers)(scope, receive, send)
            return
        scope[SCOPE_KEY] = user
        await self.app(scope, receive, send)

    def _decide(self, path: str, token: str | None) -> tuple[User | None, int, str]:
        keys = self.keys
        if path == "/v1/ingest":
            if keys.admin is not None:
                admin = keys.admin_user(token)
                return admin, 401, "ingest needs the admin key (Authorization: Bearer <key>)"
            if not keys.loopback:
                return None, 403, ("ingest over HTTP needs PAPERCHAT_ADMIN_KEY when the "
                                   "server is not bound to a loopback address")
        if keys.open:
            return User(None), 200, ""
        return keys.user(token), 401, "missing or invalid API key (Authorization: Bearer <key>)"


# Documents the bearer scheme in OpenAPI; the check itself is `Authenticate`'s.
_scheme = HTTPBearer(auto_error=False, description="PAPERCHAT_API_KEY, a key of "
                     "PAPERCHAT_API_KEYS, or for ingest PAPERCHAT_ADMIN_KEY, when the server "
                     "sets one.")


async def bearer_documented(_: Annotated[HTTPAuthorizationCredentials | None,
                                         Depends(_scheme)]) -> None:
    """No-op dependency that puts the bearer scheme into the OpenAPI document."""


async def get_user(request: Request) -> User:
    """The caller `Authenticate` identified (the default user outside /v1)."""
    user = request.scope.get(SCOPE_KEY)
    return user if isinstance(user, User) else User(None)


UserDep = Annotated[User, Depends(get_user)]
