"""A report (compliance or incident) written to a folder: JSON, HTML, PDF and the signed
manifest beside them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from soc_api.compliance.incident_report import incident_report_name
from soc_api.compliance.render import to_html, to_json, to_pdf
from soc_api.compliance.signing import SUFFIX, sign

log = logging.getLogger(__name__)


def report_name(report: dict[str, Any]) -> str:
    if "incident" in report:
        return incident_report_name(report)
    return f"{report['framework']['id']}-{report['agency']['id']}-{report['period']['name']}"


def write_report(
    report: dict[str, Any], out: Path, key: Ed25519PrivateKey, *, pdf: bool = True
) -> list[Path]:
    """The report's files in ``out`` (made if missing), the manifest last."""
    name = report_name(report)
    html = to_html(report)
    files = {f"{name}.json": to_json(report), f"{name}.html": html}
    if pdf:
        stamp = report["generated_at"].replace("-", "").replace(":", "").replace("T", "")
        files[f"{name}.pdf"] = to_pdf(html, stamp.rstrip("Z")[:14])
    files[f"{name}{SUFFIX}"] = sign(name, files, report, key)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, data in files.items():
        path = out / fname
        path.write_bytes(data)
        written.append(path)
    log.info("report %s written to %s", name, out)
    return written
