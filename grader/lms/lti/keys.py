"""The tool's RSA signing keys, kept in the instance folder (``instance/lti/``).

The first use generates a key pair. ``rotate`` adds a new key, which signs from then on,
and keeps publishing the old one in the JWKS for a grace period, so that platforms holding
a cached JWKS still verify what was signed just before the rotation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRACE = dt.timedelta(days=7)
KEY_BITS = 2048


@dataclass(frozen=True)
class ToolKey:
    kid: str
    private_pem: bytes
    created_at: dt.datetime
    retired_at: dt.datetime | None

    def public_jwk(self) -> dict[str, Any]:
        from jwcrypto import jwk

        key = jwk.JWK.from_pem(self.private_pem)
        public = json.loads(key.export_public())
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}


class ToolKeys:
    def __init__(self, instance_path: Path, grace: dt.timedelta = GRACE):
        self.folder = Path(instance_path) / "lti"
        self.grace = grace

    # --------------------------------------------------------------------- reading
    def current(self) -> ToolKey:
        """The key that signs now (generated on first use)."""
        keys = self._load()
        if not keys:
            self._add(None)
            keys = self._load()
        return next(k for k in reversed(keys) if k.retired_at is None)

    def published(self, now: dt.datetime | None = None) -> list[ToolKey]:
        """The current key and the retired ones still inside their grace period."""
        self.current()
        now = now or dt.datetime.now(dt.timezone.utc)
        return [k for k in self._load() if k.retired_at is None or now - k.retired_at < self.grace]

    def jwks(self, now: dt.datetime | None = None) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.published(now)]}

    def all(self) -> list[ToolKey]:
        return self._load()

    # --------------------------------------------------------------------- writing
    def rotate(self) -> ToolKey:
        """A new current key; the previous one is published for ``grace`` more."""
        self.current()
        self._add(dt.datetime.now(dt.timezone.utc))
        return self.current()

    def _add(self, retire_previous_at: dt.datetime | None) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.folder.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        now = dt.datetime.now(dt.timezone.utc)
        kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
        _write_private(self.folder / f"{kid}.pem", pem)
        index = self._index()
        if retire_previous_at is not None:
            for entry in index:
                entry["retired_at"] = entry.get("retired_at") or retire_previous_at.isoformat()
        index.append({"kid": kid, "created_at": now.isoformat(), "retired_at": None})
        _write_private(self.folder / "keys.json", json.dumps(index, indent=1).encode())

    def _index(self) -> list[dict[str, Any]]:
        path = self.folder / "keys.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []

    def _load(self) -> list[ToolKey]:
        keys = []
        for entry in self._index():
            pem_path = self.folder / f"{entry['kid']}.pem"
            if not pem_path.is_file():
                continue
            retired = entry.get("retired_at")
            keys.append(ToolKey(entry["kid"], pem_path.read_bytes(), dt.datetime.fromisoformat(entry["created_at"]),
                                dt.datetime.fromisoformat(retired) if retired else None))
        return keys


def _write_private(path: Path, data: bytes) -> None:
    """Written whole under a private name (mode 0600), then renamed into place."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(scratch, path)
