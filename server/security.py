"""Bearer-key checks: PAPERCHAT_API_KEY guards /v1, PAPERCHAT_ADMIN_KEY guards ingest."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from server.deps import SettingsDep

_bearer = HTTPBearer(auto_error=False, description="PAPERCHAT_API_KEY (or, for ingest, "
                     "PAPERCHAT_ADMIN_KEY) when the server sets one.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def key_matches(given: HTTPAuthorizationCredentials | None, key: SecretStr) -> bool:
    """Constant-time comparison of the presented bearer token with `key`."""
    token = given.credentials if given is not None else ""
    return hmac.compare_digest(token.encode("utf-8"), key.get_secret_value().encode("utf-8"))


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def require_api_key(settings: SettingsDep, credentials: Credentials) -> None:
    """401 unless no API key is configured or the request presents it."""
    if settings.api_key is not None and not key_matches(credentials, settings.api_key):
        raise HTTPException(401, "missing or invalid API key (Authorization: Bearer <key>)",
                            headers=_CHALLENGE)


async def require_admin(settings: SettingsDep, credentials: Credentials) -> None:
    """Ingest: the admin key when one is set; else the API key rules, on loopback only."""
    if settings.admin_key is not None:
        if not key_matches(credentials, settings.admin_key):
            raise HTTPException(401, "ingest needs the admin key (Authorization: Bearer <key>)",
                                headers=_CHALLENGE)
        return
    await require_api_key(settings, credentials)
    if not is_loopback(settings.server.host):
        raise HTTPException(403, "ingest over HTTP needs PAPERCHAT_ADMIN_KEY when the server "
                            "is not bound to a loopback address")
