"""A city device speaking TLS with a client fingerprint its firmware does not have: the
rule's samples are what the packet engine and the enricher make of crafted captures, and
its lists of known fingerprints are what the same decoder computes for the firmware's own
ClientHellos. Run this file as a script to write the samples again after a decoder change:

    .venv/bin/python tests/unit/detections/test_device_tls_fingerprints.py
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from citysoc.core.ecs import Event
from citysoc.core.settings import BUNDLED_TOPOLOGY
from citysoc.core.topology import load_topology
from collectors.enrich import Enricher
from collectors.packets.pcap import read_pcap
from collectors.stats import CollectorStats
from detections.engine.baseline import check_baseline
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog
from scenarios import tlscraft
from scenarios.packetcraft import Capture, tcp_conversation

FOLDER = (
    Path(__file__).resolve().parents[3]
    / "detections/sigma/network/command_and_control_device_tls_unknown_fingerprint"
)
START = 1_795_660_000.0


class Scenario(NamedTuple):
    client: tlscraft.Client
    source: str
    destination: tuple[str, int]
    sni: str | None


SAMPLES = {
    "match/camera_curl_like_to_internet": Scenario(
        tlscraft.CURL_LIKE, "10.31.0.33", ("203.0.113.50", 443), "files.example"),
    "match/nvr_python_like_to_internet": Scenario(
        tlscraft.PYTHON_LIKE, "10.32.7.250", ("203.0.113.51", 8443), "203-0-113-51.example"),
    "match/controller_with_a_camera_fingerprint": Scenario(
        tlscraft.CAMERA_FIRMWARE, "10.40.0.5", ("10.20.0.30", 8443), "scada.hcmc.example"),
    "nomatch/camera_firmware_to_update_server": Scenario(
        tlscraft.CAMERA_FIRMWARE, "10.31.0.11", ("203.0.113.10", 443), "firmware.example"),
    "nomatch/nvr_firmware_to_vms": Scenario(
        tlscraft.NVR_FIRMWARE, "10.32.7.250", ("10.20.0.10", 443), "vms.hcmc.example"),
    "nomatch/controller_firmware_to_scada": Scenario(
        tlscraft.CONTROLLER_FIRMWARE, "10.41.0.7", ("10.20.0.30", 8443), None),
    "nomatch/engineering_workstation_curl_like": Scenario(
        tlscraft.CURL_LIKE, "10.20.0.40", ("203.0.113.50", 443), "files.example"),
}  # fmt: skip


def handshake_event(scenario: Scenario, folder: Path) -> Event:
    """The one TLS event the packet engine and the enricher make of a crafted handshake."""
    rng = random.Random(16)
    cap = Capture()
    turns = tlscraft.handshake(scenario.client, scenario.sni)
    cap.add(tcp_conversation((scenario.source, 50123), scenario.destination, START, turns,
                             rng=rng))  # fmt: skip
    path = folder / "tls.pcap"
    cap.write(path)
    stats = CollectorStats()
    enrich = Enricher(load_topology(BUNDLED_TOPOLOGY), "dic")
    events = [enrich(e) for e in read_pcap(path, stats)]
    assert stats.errors == {}
    [tls] = [e for e in events if e.get("event.dataset") == "network_traffic.tls"]
    return tls


def fingerprint(client: tlscraft.Client, sni: str | None, folder: Path) -> str:
    event = handshake_event(Scenario(client, "10.31.0.11", ("203.0.113.10", 443), sni), folder)
    return str(event["citysoc.tls.client.ja4"])


def known_lists() -> dict[str, list[str]]:
    rule = yaml.safe_load((FOLDER / "rule.yml").read_text(encoding="utf-8"))
    detection = rule["detection"]
    return {name: detection[name]["citysoc.tls.client.ja4"]
            for name in ("camera_firmware", "controller_firmware")}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_sample_is_what_the_decoder_makes_of_its_capture(name: str, tmp_path: Path) -> None:
    written = json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))
    assert written == handshake_event(SAMPLES[name], tmp_path)


def test_the_known_lists_hold_the_firmware_fingerprints_the_decoder_computes(
    tmp_path: Path,
) -> None:
    def of(client: tlscraft.Client) -> str:
        return fingerprint(client, "files.example", tmp_path)

    known = known_lists()
    camera = {fingerprint(tlscraft.CAMERA_FIRMWARE, "firmware.example", tmp_path),
              fingerprint(tlscraft.NVR_FIRMWARE, "vms.hcmc.example", tmp_path)}  # fmt: skip
    controller = {fingerprint(tlscraft.CONTROLLER_FIRMWARE, None, tmp_path)}
    assert camera <= set(known["camera_firmware"])
    assert controller <= set(known["controller_firmware"])
    tools = {of(tlscraft.CURL_LIKE), of(tlscraft.PYTHON_LIKE)}
    assert not tools & (set(known["camera_firmware"]) | set(known["controller_firmware"]))
    assert len(tools | camera | controller) == 5  # every client its own fingerprint


def test_the_rule_judges_each_class_by_its_own_list_and_needs_a_fingerprint(
    tmp_path: Path,
) -> None:
    compiled = compile_catalog(load_catalog())
    assert compiled.errors == []
    rule = "command_and_control_device_tls_unknown_fingerprint"

    def fired(event: Event) -> bool:
        return rule in check_baseline([event], compiled.rules, {}).hits

    nvr = handshake_event(SAMPLES["nomatch/nvr_firmware_to_vms"], tmp_path)
    camera_on_plc = handshake_event(
        Scenario(tlscraft.CAMERA_FIRMWARE, "10.40.0.5", ("10.20.0.30", 8443), "x.example"),
        tmp_path,
    )
    controller_on_camera = handshake_event(
        Scenario(tlscraft.CONTROLLER_FIRMWARE, "10.31.0.21", ("10.20.0.10", 443), None),
        tmp_path,
    )
    assert not fired(nvr)
    assert fired(camera_on_plc) and fired(controller_on_camera)
    # TLS seen without a JA4 (Suricata's EVE here) is not judged by this rule.
    curl = handshake_event(SAMPLES["match/camera_curl_like_to_internet"], tmp_path)
    assert fired(dict(curl))
    del curl["citysoc.tls.client.ja4"]
    assert not fired(curl)


def write_samples() -> None:
    with tempfile.TemporaryDirectory() as work:
        for name, scenario in SAMPLES.items():
            event = handshake_event(scenario, Path(work))
            text = json.dumps(event, indent=2, ensure_ascii=False) + "\n"
            (FOLDER / f"{name}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write_samples()
