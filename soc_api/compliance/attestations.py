"""Attestations: documents an agency uploads for requirements citysoc cannot check itself
(an approval decision, an inspection report), kept with who uploaded them and when.

Each is stored under ``<data dir>/compliance/attestations/<agency>/<period>/<framework>/
<requirement>/`` as the file (named by its SHA-256 and a safe form of its name) and a JSON
record beside it. A report reads them back and checks each file still has its hash.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from pydantic import BaseModel, ValidationError

from soc_api.compliance.frameworks import ComplianceError, Framework
from soc_api.compliance.period import Period

log = logging.getLogger(__name__)
FOLDER = Path("compliance") / "attestations"
MAX_BYTES = 20 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Attestation(BaseModel):
    agency: str
    period: str
    framework: str
    requirement: str
    file_name: str
    stored_as: str
    sha256: str
    size: int
    by: str
    at: str


def _folder(data_dir: Path, agency: str, period: Period, framework: str, req: str) -> Path:
    return data_dir / FOLDER / agency / period.name / framework / req


def attestable(framework: Framework) -> list[str]:
    return [r.id for r in framework.requirements if r.evidence.attestation]


def save(
    data_dir: Path,
    *,
    agency: str,
    period: Period,
    framework: Framework,
    requirement: str,
    file_name: str,
    content: bytes,
    by: str,
    at: str,
) -> Attestation:
    """Keep one attestation; refuses requirements that take none, and empty or huge files."""
    valid = attestable(framework)
    if requirement not in valid:
        raise ComplianceError(
            f"requirement {requirement!r} of {framework.id} takes no attestation; "
            f"those that do: {', '.join(valid)}"
        )
    if not content or len(content) > MAX_BYTES:
        raise ComplianceError(f"an attestation is 1 byte to {MAX_BYTES // (1024 * 1024)} MiB")
    digest = hashlib.sha256(content).hexdigest()
    safe = _UNSAFE.sub("_", Path(file_name).name)[-80:].lstrip(".") or "attestation"
    folder = _folder(data_dir, agency, period, framework.id, requirement)
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{digest[:16]}-{safe}"
    stored.write_bytes(content)
    record = Attestation(
        agency=agency, period=period.name, framework=framework.id, requirement=requirement,
        file_name=Path(file_name).name[:200], stored_as=stored.name, sha256=digest,
        size=len(content), by=by, at=at,
    )  # fmt: skip
    stored.with_name(stored.name + ".json").write_text(record.model_dump_json(), encoding="utf-8")
    log.info("attestation %s for %s %s kept for %s", stored.name, framework.id, requirement, agency)
    return record


def load(
    data_dir: Path, agency: str, period: Period, framework: str
) -> tuple[dict[str, list[Attestation]], dict[str, list[str]]]:
    """Attestations by requirement, and by requirement a problem per record that is
    unreadable or whose file no longer has its hash."""
    found: dict[str, list[Attestation]] = {}
    problems: dict[str, list[str]] = {}
    root = data_dir / FOLDER / agency / period.name / framework
    for meta in sorted(root.glob("*/*.json")) if root.is_dir() else []:
        try:
            record = Attestation.model_validate_json(meta.read_bytes())
            content = meta.with_name(record.stored_as).read_bytes()
        except (OSError, ValidationError, ValueError) as exc:
            problems.setdefault(meta.parent.name, []).append(
                f"attestation {meta.name} is unreadable: {str(exc)[:120]}"
            )
            continue
        if hashlib.sha256(content).hexdigest() != record.sha256:
            problems.setdefault(meta.parent.name, []).append(
                f"attestation {record.stored_as} was changed after it was uploaded"
            )
            continue
        found.setdefault(record.requirement, []).append(record)
    for records in found.values():
        records.sort(key=lambda r: (r.at, r.sha256))
    return found, problems
