"""ATT&CK Navigator layers of what the rules cover, counting only rules that pass their tests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from detections.engine.attack import domain_of, load_reference, techniques_in

DOMAINS = {"enterprise": "enterprise-attack", "ics": "ics-attack"}


@dataclass(frozen=True)
class ProvenRule:
    """A rule that fired on all its match samples and stayed quiet on its nomatch samples."""

    name: str
    kind: str  # sigma, correlation, yara, suricata
    tags: tuple[str, ...]


def coverage_layers(rules: Iterable[ProvenRule]) -> dict[str, dict[str, Any]]:
    """One Navigator layer per ATT&CK domain; a technique's score is its number of rules."""
    by_technique: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        for technique in techniques_in(rule.tags):
            by_technique[technique].append(f"{rule.kind}:{rule.name}")
    reference = load_reference()
    layers = {}
    for domain, navigator_domain in DOMAINS.items():
        techniques = [
            {
                "techniqueID": tid,
                "score": len(names),
                "comment": "; ".join(sorted(names)),
                "enabled": True,
                "metadata": [{"name": "name", "value": reference.techniques.get(tid, "")}],
            }
            for tid, names in sorted(by_technique.items())
            if domain_of(tid) == domain
        ]
        top = max((len(names) for names in by_technique.values()), default=1)
        layers[domain] = {
            "name": f"citysoc detections ({domain})",
            "versions": {
                "attack": reference.version.split(".")[0],
                "navigator": "5.1.0",
                "layer": "4.5",
            },
            "domain": navigator_domain,
            "description": "Techniques covered by citysoc rules that pass their tests; "
            "the score is the number of such rules.",
            "techniques": techniques,
            "gradient": {"colors": ["#d6e9ff", "#0b5cad"], "minValue": 0, "maxValue": top},
            "hideDisabled": False,
        }
    return layers
