"""Build the versioned analytics bundle: the rules, what they compile to, and the engine layout.

A bundle is a folder ``citysoc-analytics-<version>/`` (and a ``.tar.gz`` of it) holding

- ``detections/``: the Sigma rules and correlations beside their samples, the YARA rules, the
  Suricata rule files and the reviewed baseline false positives (what the gate proves);
- ``runbooks/``: the runbooks the rules link to;
- ``compiled/sqlite/<rule>.sql`` and ``compiled/lucene/<rule>.lucene``: each alerting rule as
  the embedded store and the engine run it, with ``compiled/rules.json`` listing them;
- ``suricata/<segment>/suricata.rules``: each watched segment's ruleset (suricata-update),
  with ``suricata/citysoc-vars.yaml`` (the address groups of the city);
- ``engine/``: the engine's ingest pipeline, component template and index templates;
- ``manifest.json``: every file's SHA-256, the content hash over them, each rule's hash and the
  changelog against a previous bundle.
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import citysoc
from citysoc.core.errors import ConfigError, RuleError
from citysoc.core.topology import Topology
from detections.engine.catalog import RULES_ROOT, RUNBOOKS_ROOT, load_catalog
from detections.engine.compiler import compile_catalog
from detections.engine.engine_queries import compile_engine_queries
from detections.engine.suricata_rules import (
    build_ruleset,
    defined_variables,
    lint_files,
    rule_files,
    vars_yaml,
)
from eventstore.engine.layout import component_template, index_template, ingest_pipeline
from eventstore.engine.lifecycle import DEFAULT_LEVEL, agency_levels
from releases.models import MANIFEST, BundleManifest, Changelog, content_hash
from releases.signing import read_manifest, rule_hashes, sha256_file

log = logging.getLogger(__name__)

PREFIX = "citysoc-analytics-"
RULE_KINDS = ("sigma", "correlations", "yara", "suricata", "baseline")
SKIPPED = ("__pycache__", ".pyc")


@dataclass(frozen=True)
class BuiltBundle:
    path: Path
    archive: Path
    manifest: BundleManifest


def _copy_tree(source: Path, target: Path) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not any(part in str(path) for part in SKIPPED):
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def changelog(rules: dict[str, str], previous: BundleManifest | None) -> Changelog:
    if previous is None:
        return Changelog(added=sorted(rules))
    before = previous.rules
    return Changelog(
        previous=previous.version,
        added=sorted(set(rules) - set(before)),
        removed=sorted(set(before) - set(rules)),
        changed=sorted(n for n in set(rules) & set(before) if rules[n] != before[n]),
    )


def _compile(work: Path) -> None:
    """Every alerting rule as SQLite and as the engine's Lucene query; refuse rules that do
    not load or compile (the gate proves the rest)."""
    catalog = load_catalog(work / "detections", work / "runbooks")
    compiled = compile_catalog(catalog)
    errors = catalog.errors + compiled.errors
    if errors:
        raise RuleError(
            f"{len(errors)} rules do not load or compile, first: {errors[0]}",
            location=errors[0].location,
        )
    engine = compile_engine_queries(catalog, {r.rule_id for r in compiled.rules})
    index = []
    for rule in compiled.rules:
        _write(work / "compiled" / "sqlite" / f"{rule.name}.sql", rule.sql + "\n")
        lucene = engine.queries.get(rule.rule_id)
        if lucene is not None:
            _write(work / "compiled" / "lucene" / f"{rule.name}.lucene", lucene + "\n")
        index.append(
            {"name": rule.name, "id": rule.rule_id, "kind": rule.kind, "level": rule.level,
             "targets": ["sqlite", "lucene"] if lucene is not None else ["sqlite"]}
        )  # fmt: skip
    refused = {str(e.location): e.message for e in engine.errors}
    _write(work / "compiled" / "rules.json", _json({"rules": index, "engine_refused": refused}))


def _suricata(work: Path, topology: Topology) -> None:
    files = rule_files(work / "detections" / "suricata")
    _rules, errors = lint_files(files, defined_variables(topology), work / "runbooks")
    if errors:
        raise RuleError(f"Suricata rules do not lint: {errors[0]}", location=errors[0].location)
    _write(work / "suricata" / "citysoc-vars.yaml", vars_yaml(topology))
    for segment in sorted(topology.segments):
        if topology.sensors_of(segment):
            out = work / "suricata" / segment
            build_ruleset(topology, segment, out, files)
            for extra in out.iterdir():  # suricata-update's own state is not the ruleset
                if extra.name != "suricata.rules":
                    shutil.rmtree(extra) if extra.is_dir() else extra.unlink()


def _engine(work: Path, topology: Topology) -> None:
    _write(work / "engine" / "ingest-pipeline.json", _json(ingest_pipeline()))
    _write(work / "engine" / "component-template.json", _json(component_template()))
    levels = agency_levels(topology)
    for flavour in ("opensearch", "elasticsearch"):
        templates = {f"logs-*-{a}": level for a, level in sorted(levels.items())}
        templates["logs-*-*"] = DEFAULT_LEVEL
        bodies = {
            pattern: index_template(flavour, pattern, level, 200, lifecycle=True)
            for pattern, level in templates.items()
        }
        _write(work / "engine" / f"index-templates.{flavour}.json", _json(bodies))


def file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def build_bundle(
    out: Path,
    topology: Topology,
    *,
    rules_root: Path = RULES_ROOT,
    runbooks: Path = RUNBOOKS_ROOT,
    previous: Path | None = None,
    version: str | None = None,
) -> BuiltBundle:
    """Build a bundle into ``out``; its version defaults to ``<citysoc version>-<hash>``."""
    before = read_manifest(previous) if previous is not None else None
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="citysoc-bundle-", dir=out) as temp:
        work = Path(temp) / "bundle"
        for kind in RULE_KINDS:
            if (rules_root / kind).is_dir():
                _copy_tree(rules_root / kind, work / "detections" / kind)
        _copy_tree(runbooks, work / "runbooks")
        _compile(work)
        _suricata(work, topology)
        _engine(work, topology)
        files = file_hashes(work)
        digest = content_hash(files)
        rules = rule_hashes(work / "detections")
        manifest = BundleManifest(
            version=version or f"{citysoc.__version__}-{digest[:12]}",
            citysoc_version=citysoc.__version__,
            created=datetime.now(UTC).replace(microsecond=0),
            content_hash=digest,
            files=files,
            rules=rules,
            changelog=changelog(rules, before),
        )
        _write(work / MANIFEST, _json(manifest.document()))
        final = out / f"{PREFIX}{manifest.version}"
        if final.exists():
            raise ConfigError(f"{final} already exists: remove it or give another --version")
        work.rename(final)
    archive = _archive(final)
    log.info("built bundle %s (%d files, %d rules)", manifest.version, len(files), len(rules))
    return BuiltBundle(final, archive, manifest)


def _archive(folder: Path) -> Path:
    archive = folder.with_name(folder.name + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name, filter=_reset)
    return archive


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


RULE_FILES = ("sigma/*/*/rule.yml", "correlations/*/*/rule.yml", "yara/*/*/rule.yar")


def rule_files_of(detections: Path) -> dict[str, str]:
    """The rule files of a rules tree (Sigma, correlations, YARA, Suricata) -> SHA-256, by
    their path under ``detections/``."""
    paths = [p for pattern in RULE_FILES for p in detections.glob(pattern)]
    paths += rule_files(detections / "suricata")
    return {f"detections/{p.relative_to(detections).as_posix()}": sha256_file(p) for p in paths}


def is_rule_file(name: str) -> bool:
    """Whether a bundle path is one of its rule files (not a sample, runbook or output)."""
    if name.startswith("detections/suricata/"):
        return name.endswith(".rules")
    path = PurePosixPath(name)
    return any(path.match(f"detections/{pattern}") for pattern in RULE_FILES)


def installed_differences(manifest: BundleManifest, detections: Path = RULES_ROOT) -> list[str]:
    """Rule files the installed citysoc would load that are not the bundle's (added, removed
    or changed): a host must run exactly the rules of the bundle it was given. The manifest's
    ``files`` are what its content hash, and so the signed decision, covers."""
    here = rule_files_of(detections)
    bundled = {name: digest for name, digest in manifest.files.items() if is_rule_file(name)}
    problems: Iterable[str] = (
        *(f"{n}: installed but not in the bundle" for n in sorted(set(here) - set(bundled))),
        *(f"{n}: in the bundle but not installed" for n in sorted(set(bundled) - set(here))),
        *(
            f"{n}: installed rule differs from the bundle's"
            for n in sorted(set(here) & set(bundled))
            if here[n] != bundled[n]
        ),
    )
    return list(problems)
