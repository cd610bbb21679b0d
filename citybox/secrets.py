"""The box's secrets, made at ``box up`` and handed to Ansible in a vars file (never argv).

- a certificate authority of the box (``ca.crt`` is what an analyst's browser or a test trusts)
  and, signed by it, the server certificates of the SOC API and of the event store's TLS proxy
  for their names and addresses;
- the SOC API's session key (48 random bytes, URL-safe);
- the account the event store's proxy admits (``citysoc``, 32 random bytes of password), which
  the collectors, sensors and SOC API use, and the CA they trust the store by.

Production keeps the same variables in Ansible Vault and takes certificates from the city's CA.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml

from citybox.run import run


def make_ca(folder: Path) -> Path:
    """A fresh CA for this box (its key never leaves the box's folder); return ca.crt."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key, cert = folder / "ca.key", folder / "ca.crt"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "30", "-subj", "/CN=citysoc city-in-a-box CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-keyout", key, "-out", cert])  # fmt: skip
    key.chmod(0o600)
    return cert


def issue(folder: Path, name: str, address: str) -> tuple[str, str]:
    """A server certificate for ``name`` and ``address`` signed by the box's CA: (cert, key)."""
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.crt"
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", csr])  # fmt: skip
    key.chmod(0o600)
    extensions = folder / f"{name}.ext"
    extensions.write_text(
        f"subjectAltName=DNS:{name},IP:{address}\n"
        "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
        encoding="utf-8",
    )
    run(["openssl", "x509", "-req", "-in", csr, "-CA", folder / "ca.crt",
         "-CAkey", folder / "ca.key", "-CAcreateserial", "-days", "30", "-sha256",
         "-extfile", extensions, "-out", cert])  # fmt: skip
    return cert.read_text(encoding="utf-8"), key.read_text(encoding="utf-8")


def write_secrets(
    folder: Path,
    soc_api: tuple[str, str] | None,
    event_store: tuple[str, str] | None = None,
) -> Path:
    """The vars file given to ``ansible-playbook -e @FILE`` (mode 0600), beside ``ca.crt`` in
    ``folder/tls``."""
    found: dict[str, Any] = {
        "soc_api_secret_key": secrets.token_urlsafe(48),
        "citysoc_event_store_username": "citysoc",
        "citysoc_event_store_password": secrets.token_urlsafe(32),
    }
    if soc_api is not None:
        found["soc_api_tls_cert_pem"], found["soc_api_tls_key_pem"] = soc_api
    if event_store is not None:
        found["event_store_tls_cert_pem"], found["event_store_tls_key_pem"] = event_store
        found["citysoc_event_store_ca_pem"] = (folder / "tls" / "ca.crt").read_text(
            encoding="utf-8"
        )
    path = folder / "secrets.yml"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(found, default_flow_style=False), encoding="utf-8")
    return path
