"""Signed reports: a manifest beside the files, signed with the install's Ed25519 key (the
one :mod:`soc_api.audit.anchor` keeps for the audit checkpoints).

The manifest holds a SHA-256 of each file and of each part of the JSON report (its header,
each requirement, each piece of evidence), so verification names what changed, not just
that something did.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from citysoc.core.canonical import canonical
from citysoc.core.keys import key_id
from soc_api.compliance.frameworks import ComplianceError

SCHEMA = "citysoc.compliance.signature/1"
SUFFIX = ".sig.json"


class Manifest(BaseModel):
    kind: str = SCHEMA
    report: str
    key_id: str
    files: dict[str, str]
    parts: dict[str, str]
    signature: str = ""

    def payload(self) -> bytes:
        return canonical(self.model_dump(exclude={"signature"}))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parts_of(report: dict[str, Any]) -> dict[str, str]:
    """A hash per part of a report: its header, each requirement, each piece of evidence."""
    header = {k: v for k, v in report.items() if k not in ("requirements", "evidence")}
    parts = {"header": sha256(canonical(header))}
    for req in report.get("requirements", []):
        parts[f"requirement {req.get('id')}"] = sha256(canonical(req))
    for name, piece in sorted(report.get("evidence", {}).items()):
        parts[f"evidence {name}"] = sha256(canonical(piece))
    return parts


def sign(
    name: str, files: dict[str, bytes], report: dict[str, Any], key: Ed25519PrivateKey
) -> bytes:
    """The signed manifest (its bytes) for a report's files; Ed25519 signs deterministically."""
    manifest = Manifest(
        report=name,
        key_id=key_id(key.public_key()),
        files={fname: sha256(data) for fname, data in sorted(files.items())},
        parts=parts_of(report),
    )
    manifest.signature = base64.b64encode(key.sign(manifest.payload())).decode()
    return (json.dumps(manifest.model_dump(), sort_keys=True, indent=2) + "\n").encode()


def manifest_path(path: Path) -> Path:
    """The manifest of a report file (or the manifest itself)."""
    if path.name.endswith(SUFFIX):
        return path
    return path.with_name(path.name.split(".", 1)[0] + SUFFIX)


def verify(path: Path, public: Ed25519PublicKey) -> list[str]:
    """What is wrong with a signed report: an empty list when every file is as signed."""
    where = manifest_path(path)
    try:
        manifest = Manifest.model_validate_json(where.read_bytes())
    except FileNotFoundError as exc:
        raise ComplianceError(f"no signature manifest {where.name} beside {path.name}") from exc
    except (ValidationError, ValueError) as exc:
        return [f"{where.name} is not a signature manifest: {str(exc)[:200]}"]
    try:
        public.verify(base64.b64decode(manifest.signature), manifest.payload())
    except (InvalidSignature, ValueError):
        return [
            f"{where.name}: bad signature (signed by key {manifest.key_id}, "
            f"verifying with {key_id(public)}): the manifest was changed or another key signed it"
        ]
    problems = []
    for fname, digest in manifest.files.items():
        file = where.with_name(fname)
        if not file.exists():
            problems.append(f"{fname}: missing")
            continue
        data = file.read_bytes()
        if sha256(data) == digest:
            continue
        problems.append(f"{fname}: changed since it was signed")
        if fname.endswith(".json"):
            problems.extend(f"  {fname}: {part}" for part in _changed_parts(data, manifest))
    return problems


def _changed_parts(data: bytes, manifest: Manifest) -> list[str]:
    try:
        report = json.loads(data)
    except ValueError:
        return ["no longer JSON"]
    now = parts_of(report)
    changed = [f"{p} changed" for p, d in manifest.parts.items() if p in now and now[p] != d]
    changed += [f"{p} removed" for p in manifest.parts if p not in now]
    changed += [f"{p} added" for p in now if p not in manifest.parts]
    return changed
