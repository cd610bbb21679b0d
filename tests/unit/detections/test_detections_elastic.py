"""Compilation to Elasticsearch's languages, the Elastic export, ATT&CK coverage, the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sigma.collection import SigmaCollection

from detections.engine.attack import domain_of, load_reference, stix_bundle, techniques_in
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog
from detections.engine.corpus import compile_corpus
from detections.engine.coverage import ProvenRule, coverage_layers
from detections.engine.elastic_export import export_catalog
from detections.engine.pipeline import index_for, is_supported
from detections.engine.targets import backend, convert

CATALOG = load_catalog()
CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "sigmahq" / "rules"


def test_every_rule_tag_names_a_technique_of_the_reference() -> None:
    reference = load_reference()
    for folder in CATALOG.folders:
        for technique in techniques_in(tuple(str(t) for t in folder.rule.tags or ())):
            assert technique in reference.techniques, f"{folder.name}: {technique}"
    for technique in reference.techniques:
        if "." in technique:  # Elastic exports name the parent of every sub-technique
            assert technique.split(".")[0] in reference.techniques


def test_stix_bundle_holds_the_reference() -> None:
    bundle = stix_bundle(load_reference())
    kinds = [o["type"] for o in bundle["objects"]]
    assert kinds.count("attack-pattern") == len(load_reference().techniques)
    assert domain_of("T0855") == "ics" and domain_of("T1110.001") == "enterprise"


def test_keyword_searches_become_substring_matches_on_event_original() -> None:
    rule = SigmaCollection.from_yaml(
        "title: t\nlogsource: {category: webserver}\n"
        "detection: {keywords: ['/etc/passwd'], condition: keywords}\n"
    ).rules[0]
    assert convert(backend("sqlite"), rule) == [
        "SELECT * FROM detection_scope WHERE `event.original` LIKE '%/etc/passwd%' ESCAPE '\\'"
    ]


def test_log_sources_map_to_fields_and_data_streams() -> None:
    rule = SigmaCollection.from_yaml(
        "title: t\nlogsource: {category: proxy}\n"
        "detection: {sel: {c-useragent: 'curl/*', cs-method: POST}, condition: sel}\n"
    ).rules[0]
    query = convert(backend("lucene"), rule)[0]
    assert "user_agent.original:curl\\/*" in query and "http.request.method:POST" in query
    assert index_for({"category": "proxy"}) == "logs-network_traffic.http-*"
    assert index_for({"product": "linux", "service": "sshd"}) == "logs-system.auth-*"
    assert is_supported({"product": "linux", "service": "vsftpd", "category": None})
    assert not is_supported({"product": "linux", "category": "process_creation"})
    assert not is_supported({"product": "linux", "service": "auditd", "category": None})


def test_every_alerting_rule_exports_to_elastic() -> None:
    generating = {r.rule_id for r in compile_catalog(CATALOG).rules}
    export = export_catalog(CATALOG, generating=generating)
    assert export.skipped == []
    assert len(export.rules) == len(generating)
    lines = [json.loads(line) for line in export.ndjson().splitlines()]
    by_name = {r["name"]: r for r in lines}
    brute = by_name["RTSP brute force against a camera"]
    assert brute["type"] == "threshold"
    assert brute["threshold"] == {"field": ["source.ip", "destination.ip"], "value": 5}
    assert brute["index"] == ["logs-network_traffic.*-*"] and brute["enabled"] is False
    hikvision = by_name["Hikvision web command injection (CVE-2021-36260)"]
    assert hikvision["type"] == "query" and hikvision["language"] == "lucene"
    assert hikvision["threat"][0]["technique"][0]["id"] == "T1190"
    assert "Exploit attempt" in hikvision["note"]  # the runbook is the investigation guide


def test_coverage_layers_split_enterprise_and_ics() -> None:
    layers = coverage_layers(
        [
            ProvenRule("a", "sigma", ("attack.credential-access", "attack.t1110.001")),
            ProvenRule("b", "sigma", ("attack.t1110.001",)),
            ProvenRule("c", "yara", ("attack.t0855",)),
        ]
    )
    enterprise = {t["techniqueID"]: t["score"] for t in layers["enterprise"]["techniques"]}
    assert enterprise == {"T1110.001": 2}
    assert [t["techniqueID"] for t in layers["ics"]["techniques"]] == ["T0855"]
    assert layers["ics"]["domain"] == "ics-attack"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"needs the SigmaHQ corpus at {CORPUS}")
def test_sigmahq_corpus_compiles_for_the_log_sources_we_collect() -> None:
    report = compile_corpus(CORPUS, ("sqlite", "esql"))
    assert report.supported >= 50 and report.parse_errors == {}
    assert report.targets["sqlite"].fraction >= 0.95
    assert report.unsupported["linux/process_creation"] > 0
