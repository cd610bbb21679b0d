"""Tap-as-a-service: the dynamic provider's create/diff/read/delete and its Neutron client,
with a fake API and an in-process HTTP transport (no network)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import dill
import httpx2 as httpx
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from citysoc.core.errors import ConfigError
from infra.taas.client import CloudAuth, NeutronTaas, read_cloud
from infra.taas.provider import TaasProvider


class FakeTaas:
    """Records what the provider sends; objects live in a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.clouds: list[str] = []

    def __call__(self, cloud: str) -> FakeTaas:
        self.clouds.append(cloud)
        return self

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("create", kind, body))
        made = {**body, "id": f"{kind}-{len(self.objects) + 1}", "status": "ACTIVE"}
        self.objects[made["id"]] = made
        return made

    def read(self, kind: str, object_id: str) -> dict[str, Any] | None:
        self.calls.append(("read", kind, object_id))
        return self.objects.get(object_id)

    def delete(self, kind: str, object_id: str) -> None:
        self.calls.append(("delete", kind, object_id))
        self.objects.pop(object_id, None)


SERVICE = {
    "name": "s1-tap-app",
    "description": "s1 watches dc-app",
    "port_id": "port-9",
    "cloud": "city",
    "mirror": "tap-service",
    "segment": "dc-app",
    "sensor": "s1",
}


def test_create_sends_only_the_api_fields_and_keeps_the_labels() -> None:
    api = FakeTaas()
    result = TaasProvider("tap_service", api).create(dict(SERVICE))
    assert api.clouds == ["city"]
    sent = {"name": "s1-tap-app", "description": "s1 watches dc-app", "port_id": "port-9"}
    assert api.calls == [("create", "tap_service", sent)]
    assert result.id == "tap_service-1"
    assert result.outs is not None
    assert result.outs["segment"] == "dc-app" and result.outs["status"] == "ACTIVE"


def test_a_tap_flow_needs_a_direction_neutron_knows() -> None:
    api = FakeTaas()
    flow = {"name": "f", "source_port": "p1", "tap_service_id": "ts", "cloud": "c"}
    with pytest.raises(ValueError, match="direction"):
        TaasProvider("tap_flow", api).create({**flow, "direction": "SIDEWAYS"})
    assert api.calls == []
    made = TaasProvider("tap_flow", api).create({**flow, "direction": "BOTH"})
    assert api.calls[0][2]["direction"] == "BOTH" and made.id == "tap_flow-1"


def test_diff_replaces_on_api_fields_and_updates_labels_in_place() -> None:
    provider = TaasProvider("tap_service", FakeTaas())
    same = provider.diff("id", {**SERVICE, "status": "ACTIVE"}, dict(SERVICE))
    assert same.changes is False and same.replaces == []
    moved = provider.diff("id", dict(SERVICE), {**SERVICE, "port_id": "port-10"})
    assert moved.changes is True and moved.replaces == ["port_id"]
    assert moved.delete_before_replace is True
    other_cloud = provider.diff("id", dict(SERVICE), {**SERVICE, "cloud": "other"})
    assert other_cloud.replaces == ["cloud"]
    relabelled = provider.diff("id", dict(SERVICE), {**SERVICE, "sensor": "s2"})
    assert relabelled.changes is True and relabelled.replaces == []
    updated = provider.update("id", {**SERVICE, "status": "ACTIVE"}, {**SERVICE, "sensor": "s2"})
    assert updated.outs == {**SERVICE, "sensor": "s2", "status": "ACTIVE"}


def test_read_and_delete_follow_neutron() -> None:
    api = FakeTaas()
    provider = TaasProvider("tap_service", api)
    made = provider.create(dict(SERVICE))
    found = provider.read(made.id, dict(SERVICE))
    assert found.id == made.id and found.outs["port_id"] == "port-9"
    provider.delete(made.id, dict(SERVICE))
    assert ("delete", "tap_service", made.id) in api.calls
    gone = provider.read(made.id, dict(SERVICE))
    assert gone.id is None


def test_the_provider_survives_pulumis_serialisation() -> None:
    """Pulumi pickles a dynamic provider into the state and runs it in another process."""
    blob = serialize_provider(TaasProvider("tap_flow"))
    provider = dill.loads(base64.b64decode(blob))
    assert isinstance(provider, TaasProvider) and provider.kind == "tap_flow"
    with pytest.raises(ValueError, match="unknown TaaS kind"):
        TaasProvider("tap_mirror")


CLOUDS = """
clouds:
  city-cloud:
    region_name: RegionOne
    auth:
      auth_url: https://keystone.city.test:5000
      username: ops
      password: secret
      project_name: soc
      user_domain_name: Default
      project_domain_name: Default
"""


def test_clouds_yaml_is_read_from_the_first_file_that_has_the_entry(tmp_path: Path) -> None:
    empty, full = tmp_path / "a.yaml", tmp_path / "b.yaml"
    empty.write_text("clouds: {}\n")
    full.write_text(CLOUDS)
    cloud = read_cloud("city-cloud", (tmp_path / "missing.yaml", empty, full))
    assert cloud.auth_url == "https://keystone.city.test:5000" and cloud.region == "RegionOne"
    assert "auth_url" not in cloud.auth
    with pytest.raises(ConfigError, match="no cloud 'other'"):
        read_cloud("other", (full,))
    bad = tmp_path / "bad.yaml"
    bad.write_text("clouds: [\n")
    with pytest.raises(ConfigError, match=r"unreadable clouds\.yaml"):
        read_cloud("city-cloud", (bad,))


def keystone_and_neutron(seen: list[httpx.Request]) -> httpx.MockTransport:
    catalog = [
        {"type": "compute", "endpoints": []},
        {
            "type": "network",
            "endpoints": [
                {
                    "interface": "public",
                    "region_id": "OtherRegion",
                    "url": "https://elsewhere.test",
                },
                {
                    "interface": "public",
                    "region_id": "RegionOne",
                    "url": "https://neutron.city.test:9696",
                },
            ],
        },
    ]

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v3/auth/tokens":
            return httpx.Response(
                201, headers={"X-Subject-Token": "tok"}, json={"token": {"catalog": catalog}}
            )
        if request.headers.get("X-Auth-Token") != "tok":
            return httpx.Response(401)
        if request.method == "POST":
            body = json.loads(request.content)["tap_service"]
            return httpx.Response(201, json={"tap_service": {**body, "id": "ts-1"}})
        if request.method == "GET":
            return httpx.Response(404)
        return httpx.Response(204)

    return httpx.MockTransport(handle)


def test_the_client_logs_in_once_and_calls_the_regions_neutron() -> None:
    seen: list[httpx.Request] = []
    cloud = read_cloud_from_text(CLOUDS)
    client = NeutronTaas(cloud, transport=keystone_and_neutron(seen))
    made = client.create("tap_service", {"name": "t", "port_id": "p"})
    assert made["id"] == "ts-1"
    assert client.read("tap_service", "ts-1") is None
    client.delete("tap_service", "ts-1")
    login = json.loads(seen[0].content)["auth"]
    assert login["identity"]["password"]["user"]["name"] == "ops"
    assert login["scope"]["project"]["name"] == "soc"
    assert [(r.method, str(r.url)) for r in seen[1:]] == [
        ("POST", "https://neutron.city.test:9696/v2.0/taas/tap_services"),
        ("GET", "https://neutron.city.test:9696/v2.0/taas/tap_services/ts-1"),
        ("DELETE", "https://neutron.city.test:9696/v2.0/taas/tap_services/ts-1"),
    ]


def test_the_client_reports_refusals_clearly() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401)

    cloud = CloudAuth(
        "https://keystone.city.test/v3",
        {"application_credential_id": "a", "application_credential_secret": "s"},
        "",
        "public",
    )
    client = NeutronTaas(cloud, transport=httpx.MockTransport(refuse))
    with pytest.raises(ConfigError, match=r"Keystone refused the login \(401\)"):
        client.create("tap_flow", {})


def read_cloud_from_text(text: str) -> CloudAuth:
    import yaml

    entry = yaml.safe_load(text)["clouds"]["city-cloud"]
    auth = dict(entry["auth"])
    return CloudAuth(auth.pop("auth_url"), auth, entry["region_name"], "public")
