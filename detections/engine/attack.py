"""ATT&CK, offline: the project's reference of tactics and techniques, and pySigma fed from it.

pySigma's ATT&CK-aware parts (the tag validator, Elastic rule exports) download ATT&CK at
run time; a SOC runs offline, so :func:`use_offline_attack_data` points them at a STIX
bundle built from ``detections/attack/reference.yml``.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sigma.data import mitre_attack

REFERENCE = Path(__file__).resolve().parent.parent / "attack" / "reference.yml"
TECHNIQUE_TAG = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


@dataclass(frozen=True)
class AttackReference:
    version: str
    tactics: dict[str, tuple[str, str]]  # id -> (shortname, domain)
    techniques: dict[str, str]  # id -> name

    def tactic_names(self) -> set[str]:
        return {name for name, _domain in self.tactics.values()}


def domain_of(technique: str) -> str:
    """``ics`` for ATT&CK for ICS techniques (T08xx), else ``enterprise``."""
    return "ics" if technique.upper().startswith("T08") else "enterprise"


def techniques_in(tags: list[str] | tuple[str, ...]) -> list[str]:
    """Technique ids named by rule tags (``attack.t1110.001`` → ``T1110.001``)."""
    found = []
    for tag in tags:
        match = TECHNIQUE_TAG.match(str(tag))
        if match:
            found.append(match.group(1).upper())
    return found


@cache
def load_reference(path: Path = REFERENCE) -> AttackReference:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    tactics = {
        tid: (name, domain)
        for domain, entries in data["tactics"].items()
        for tid, name in entries.items()
    }
    return AttackReference(str(data["version"]), tactics, dict(data["techniques"]))


def _ref(external_id: str) -> list[dict[str, str]]:
    return [{"source_name": "mitre-attack", "external_id": external_id}]


def stix_bundle(reference: AttackReference) -> dict[str, Any]:
    """The reference as the STIX bundle shape pySigma reads."""
    objects: list[dict[str, Any]] = [
        {"type": "x-mitre-collection", "x_mitre_version": reference.version}
    ]
    for tid, (name, _domain) in reference.tactics.items():
        objects.append(
            {"type": "x-mitre-tactic", "x_mitre_shortname": name, "external_references": _ref(tid)}
        )
    for tid, title in reference.techniques.items():
        objects.append({"type": "attack-pattern", "name": title, "external_references": _ref(tid)})
    return {"type": "bundle", "objects": objects}


@cache
def use_offline_attack_data() -> Path:
    """Make pySigma read ATT&CK from the project's reference, never from the network."""
    folder = Path(tempfile.mkdtemp(prefix="citysoc-attack-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # removed when the process ends
    bundle = folder / "attack.json"
    bundle.write_text(json.dumps(stix_bundle(load_reference())), encoding="utf-8")
    mitre_attack.set_cache_dir(str(folder / "cache"))
    mitre_attack.set_url(str(bundle))
    return bundle
