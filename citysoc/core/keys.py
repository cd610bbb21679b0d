"""Ed25519 keys as PEM files: load them, and name a public key by a short id.

The audit checkpoints, the signed compliance reports and the release decisions all sign with
Ed25519; a key's id (16 hex digits of SHA-256 over its raw public bytes) tells which key
signed, so a verifier can say "signed by X, verifying with Y".
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from citysoc.core.errors import ConfigError, Location


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted Ed25519 private key (PKCS#8 PEM)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the private key: {exc}", location=Location(str(path))
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("not an Ed25519 private key", location=Location(str(path)))
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key (SubjectPublicKeyInfo PEM)."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the public key: {exc}", location=Location(str(path))
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("not an Ed25519 public key", location=Location(str(path)))
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
