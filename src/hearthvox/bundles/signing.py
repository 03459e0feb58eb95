"""ed25519 signatures over canonical JSON: keys, key ids, signing and checking envelopes.

A signed document is an *envelope*::

    {"signed": {...the document...},
     "signatures": [{"keyid": "3f2a...", "sig": "<base64 of 64 bytes>"}]}

The signature covers the canonical JSON of ``signed`` (keys sorted, no spaces,
UTF-8). A public key is written ``ed25519:<base64 of the 32 raw bytes>``; its key
id is the first 16 hex digits of the sha256 of those bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hearthvox.errors import ConfigError, ModelError

PREFIX = "ed25519:"


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def public_text(public: Ed25519PublicKey) -> str:
    return PREFIX + base64.b64encode(_raw(public)).decode()


def parse_public(text: str, where: str = "[models] trusted_keys") -> Ed25519PublicKey:
    if not text.startswith(PREFIX):
        raise ConfigError(f"{where}: {text!r} is not of the form ed25519:BASE64")
    try:
        raw = base64.b64decode(text[len(PREFIX) :], validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: {text!r} is not a valid ed25519 public key") from None


@dataclass(frozen=True)
class TrustedKeys:
    keys: dict[str, Ed25519PublicKey]  # key id -> key

    @classmethod
    def of(cls, *publics: Ed25519PublicKey) -> TrustedKeys:
        return cls({key_id(p): p for p in publics})

    def ids(self) -> list[str]:
        return sorted(self.keys)


def sign(document: dict[str, Any], private: Ed25519PrivateKey) -> dict[str, Any]:
    sig = private.sign(canonical(document))
    return {
        "signed": document,
        "signatures": [
            {"keyid": key_id(private.public_key()), "sig": base64.b64encode(sig).decode()}
        ],
    }


def envelope_bytes(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, indent=1, sort_keys=True).encode() + b"\n"


ENVELOPE_MAX = 8 << 20
"""The largest signed document read (an index; a manifest is capped at 1 MiB before)."""
_SIGNATURES_MAX = 16


def open_envelope(data: bytes, trusted: TrustedKeys, what: str) -> dict[str, Any]:
    """The ``signed`` document of *data*, once a trusted key's signature checks out."""
    if len(data) > ENVELOPE_MAX:
        raise ModelError(f"{what} is larger than {ENVELOPE_MAX} bytes: refused")
    try:
        envelope = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ModelError(f"{what} is nested too deeply to be a signed document: refused") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("signed"), dict):
        raise ModelError(f"{what} is not a signed document (no 'signed' object)")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures or len(signatures) > _SIGNATURES_MAX:
        raise ModelError(f"{what} has no signature (or more than {_SIGNATURES_MAX}): refused")
    try:
        message = canonical(envelope["signed"])
    except (RecursionError, ValueError):
        raise ModelError(f"{what} is nested too deeply to be a signed document: refused") from None
    unknown: list[str] = []
    for entry in signatures:
        if not isinstance(entry, dict):
            raise ModelError(f"{what}: a signature entry is not an object")
        kid, sig = entry.get("keyid"), entry.get("sig")
        if not isinstance(kid, str) or not isinstance(sig, str) or len(kid) > 128:
            raise ModelError(f"{what}: a signature entry lacks a 'keyid' or 'sig'")
        public = trusted.keys.get(kid)
        if public is None:
            unknown.append(kid)
            continue
        try:
            public.verify(base64.b64decode(sig, validate=True), message)
        except (InvalidSignature, binascii.Error, ValueError):
            raise ModelError(
                f"{what}: the signature by key {kid} does not match the content: refused "
                f"(the file was altered after signing, or is corrupt)"
            ) from None
        signed: dict[str, Any] = envelope["signed"]
        return signed
    raise ModelError(
        f"{what} is signed by key(s) {', '.join(unknown)}, which this device does not trust: "
        f"refused. To trust a publisher, add its public key to [models] trusted_keys in the "
        f"config (trusted now: {', '.join(trusted.ids()) or 'none'})"
    )


# ---------------------------------------------------------------- the local key


@dataclass(frozen=True)
class LocalKey:
    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


def load_or_create_local_key(keys_dir: Path) -> LocalKey:
    """This device's signing key (for the default bundle), created on first use (mode 0600)."""
    path = keys_dir / "local-ed25519.pem"
    if not path.exists():
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = keys_dir / f".local-{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        (keys_dir / "local-ed25519.pub").write_text(public_text(_load(path).public_key()) + "\n")
    return LocalKey(_load(path), path)


def local_public(keys_dir: Path) -> Ed25519PublicKey | None:
    path = keys_dir / "local-ed25519.pem"
    return _load(path).public_key() if path.exists() else None


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the local signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ModelError(f"{path} is not an ed25519 private key")
    return key
