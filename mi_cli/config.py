"""Where ``mi`` keeps its login: ``$XDG_CONFIG_HOME/mi/credentials.json`` (``~/.config``
without it), readable by its owner only (0600, in a 0700 directory), written atomically."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_ISSUER = "http://127.0.0.1:8001/o/oauth2/default"
CLIENT_ID = "mi-cli"
# Refresh a little before expiry so a token does not run out between check and request.
EXPIRY_MARGIN_SECONDS = 30


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mi"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


@dataclass
class Credentials:
    """A login: the server it is for, and the tokens of the authorization server."""

    server: str
    issuer: str
    token_endpoint: str
    access_token: str
    expires_at: float
    refresh_token: str = ""
    client_id: str = CLIENT_ID
    scope: str = ""
    subject: str = field(default="")

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at - EXPIRY_MARGIN_SECONDS


def load() -> Credentials | None:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
        return Credentials(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        # A damaged or older file is as good as none: the user logs in again.
        return None


def save(credentials: Credentials) -> Path:
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # Created 0600 from the start: the tokens are never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(credentials), out, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def forget() -> bool:
    """Remove the cached login; True when there was one."""
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True
