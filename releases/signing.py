"""Sign a gate decision with Ed25519, and verify a bundle with its decision.

A bundle verifies when every file is as its manifest says (no file missing, changed or
added), the manifest's content hash is the hash of its files, the decision beside it is for
that content hash, is signed by the given key, and passed. :func:`verify_release` returns
the problems found (empty when the bundle may be deployed); it imports only the shared core,
so the Pulumi policy pack and the SOC API can call it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from citysoc.core.errors import ConfigError
from citysoc.core.keys import key_id, load_public_key
from releases.models import DECISION, MANIFEST, BundleManifest, GateDecision, content_hash

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def rule_hashes(detections: Path) -> dict[str, str]:
    """Each rule of a rules tree by name: Sigma and correlation rules by folder name, YARA
    rules as ``yara:<name>``, Suricata rules as ``suricata:<sid>`` (SHA-256 of the line)."""
    found: dict[str, str] = {}
    for kind in ("sigma", "correlations"):
        for rule in sorted((detections / kind).glob("*/*/rule.yml")):
            found[rule.parent.name] = sha256_file(rule)
    for rule in sorted((detections / "yara").glob("*/*/rule.yar")):
        found[f"yara:{rule.parent.name}"] = sha256_file(rule)
    for path in sorted((detections / "suricata").glob("**/*.rules")):
        for line in path.read_text(encoding="utf-8").splitlines():
            sid = next(
                (o.split(":")[1] for o in line.split(";") if o.strip().startswith("sid:")), ""
            )
            if sid and not line.lstrip().startswith("#"):
                found[f"suricata:{sid.strip()}"] = hashlib.sha256(line.strip().encode()).hexdigest()
    return found


def sign_decision(decision: GateDecision, key: Ed25519PrivateKey) -> GateDecision:
    """The decision with ``key_id`` and ``signature`` set (Ed25519 signs deterministically)."""
    unsigned = decision.model_copy(update={"key_id": key_id(key.public_key()), "signature": ""})
    signature = base64.b64encode(key.sign(unsigned.payload())).decode()
    return unsigned.model_copy(update={"signature": signature})


def signature_problem(decision: GateDecision, public: Ed25519PublicKey) -> str | None:
    """Why the decision's signature does not verify with ``public``, or None when it does."""
    try:
        public.verify(base64.b64decode(decision.signature, validate=True), decision.payload())
    except (InvalidSignature, ValueError):
        return (
            f"{DECISION}: bad signature (signed by key {decision.key_id or 'none'}, verifying "
            f"with {key_id(public)}): the decision was changed or another key signed it"
        )
    return None


def read_manifest(bundle: Path) -> BundleManifest:
    path = bundle / MANIFEST
    try:
        return BundleManifest.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"{bundle} is not a bundle: no {MANIFEST}") from exc
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"{path} is not a bundle manifest: {str(exc)[:300]}") from exc


def read_decision(bundle: Path) -> GateDecision:
    path = bundle / DECISION
    try:
        return GateDecision.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"{bundle} has no {DECISION}: run citysoc release gate on it") from exc
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"{path} is not a gate decision: {str(exc)[:300]}") from exc


def file_problems(bundle: Path, manifest: BundleManifest) -> list[str]:
    """Files missing, changed or added since the manifest was written."""
    problems = []
    for name, digest in sorted(manifest.files.items()):
        path = bundle / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: changed since the bundle was built")
    listed = set(manifest.files) | {MANIFEST, DECISION}
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        name = path.relative_to(bundle).as_posix()
        if name not in listed:
            problems.append(f"{name}: not in the manifest")
    if content_hash(manifest.files) != manifest.content_hash:
        problems.append(f"{MANIFEST}: content_hash is not the hash of its files")
    return problems


def verify_release(bundle: Path, public_key: Ed25519PublicKey | Path) -> list[str]:
    """What stops this bundle from being deployed; empty when it may be."""
    public = public_key if isinstance(public_key, Ed25519PublicKey) else load_public_key(public_key)
    try:
        manifest = read_manifest(bundle)
    except ConfigError as exc:
        return [str(exc)]
    problems = file_problems(bundle, manifest)
    if not problems and rule_hashes(bundle / "detections") != manifest.rules:
        problems.append(f"{MANIFEST}: its rules map is not the bundle's rule files")
    try:
        decision = read_decision(bundle)
    except ConfigError as exc:
        return [*problems, str(exc)]
    bad_signature = signature_problem(decision, public)
    if bad_signature:
        problems.append(bad_signature)
    if decision.bundle_hash != manifest.content_hash:
        problems.append(
            f"{DECISION} is for bundle {decision.bundle_hash[:16]} (version "
            f"{decision.bundle_version}), not this one ({manifest.content_hash[:16]})"
        )
    elif decision.bundle_version != manifest.version:
        problems.append(
            f"{DECISION} names version {decision.bundle_version}, not {manifest.version}"
        )
    if not decision.passed:
        failed = ", ".join(c.name for c in decision.failed()) or "no check named"
        problems.append(f"the gate refused this bundle (failed: {failed})")
    log.info("verified bundle %s: %d problems", manifest.version, len(problems))
    return problems
