"""A small client of Neutron's tap-as-a-service API, authenticated from ``clouds.yaml``.

Credentials never pass through the stack: the dynamic provider names a ``clouds.yaml`` entry
(``citysoc:cloud``) and this module reads it from OpenStack's usual places, as the
OpenStack provider and CLI do. The HTTP transport is injectable, so tests never touch the
network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx2 as httpx
import yaml

from citysoc.core.errors import ConfigError, Location

log = logging.getLogger(__name__)
CLOUDS_FILES = (
    Path("clouds.yaml"),
    Path.home() / ".config" / "openstack" / "clouds.yaml",
    Path("/etc/openstack/clouds.yaml"),
)
TIMEOUT_SECONDS = 30.0


class TaasApi(Protocol):
    """What the providers need: create, read and delete one TaaS object by kind and id."""

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def read(self, kind: str, object_id: str) -> dict[str, Any] | None: ...

    def delete(self, kind: str, object_id: str) -> None: ...


@dataclass(frozen=True)
class CloudAuth:
    """One ``clouds.yaml`` entry: where Keystone is and how to authenticate."""

    auth_url: str
    auth: dict[str, Any]
    region: str
    interface: str


def read_cloud(name: str, files: tuple[Path, ...] = CLOUDS_FILES) -> CloudAuth:
    """The entry ``name`` of the first ``clouds.yaml`` that has it."""
    for path in files:
        if not path.is_file():
            continue
        try:
            clouds = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("clouds") or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"unreadable clouds.yaml: {exc}", location=Location(str(path))
            ) from exc
        entry = clouds.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("auth"), dict):
            auth = dict(entry["auth"])
            url = str(auth.pop("auth_url", "")).rstrip("/")
            if not url:
                raise ConfigError(f"cloud {name!r} has no auth_url", location=Location(str(path)))
            return CloudAuth(
                url, auth, str(entry.get("region_name", "")), str(entry.get("interface", "public"))
            )
    where = ", ".join(str(p) for p in files)
    raise ConfigError(f"no cloud {name!r} with an 'auth' section in clouds.yaml ({where})")


def _identity(auth: dict[str, Any]) -> dict[str, Any]:
    if "application_credential_id" in auth:
        return {
            "methods": ["application_credential"],
            "application_credential": {
                "id": auth["application_credential_id"],
                "secret": auth.get("application_credential_secret", ""),
            },
        }
    user = {
        "name": auth.get("username", ""),
        "password": auth.get("password", ""),
        "domain": {"name": auth.get("user_domain_name", "Default")},
    }
    return {"methods": ["password"], "password": {"user": user}}


def _scope(auth: dict[str, Any]) -> dict[str, Any] | None:
    if "application_credential_id" in auth or not auth.get("project_name"):
        return None
    domain = auth.get("project_domain_name", "Default")
    return {"project": {"name": auth["project_name"], "domain": {"name": domain}}}


class NeutronTaas:
    """TaaS calls against Neutron, with a Keystone v3 token taken on first use."""

    PATHS: ClassVar[dict[str, str]] = {
        "tap_service": "taas/tap_services",
        "tap_flow": "taas/tap_flows",
    }

    def __init__(self, cloud: CloudAuth, transport: httpx.BaseTransport | None = None) -> None:
        self._cloud = cloud
        self._http = httpx.Client(transport=transport, timeout=TIMEOUT_SECONDS)
        self._token = ""
        self._endpoint = ""

    def _login(self) -> None:
        base = self._cloud.auth_url
        url = f"{base}/auth/tokens" if base.endswith("/v3") else f"{base}/v3/auth/tokens"
        body: dict[str, Any] = {"auth": {"identity": _identity(self._cloud.auth)}}
        scope = _scope(self._cloud.auth)
        if scope:
            body["auth"]["scope"] = scope
        response = self._http.post(url, json=body)
        if response.status_code != 201:
            raise ConfigError(f"Keystone refused the login ({response.status_code}) at {url}")
        self._token = response.headers["X-Subject-Token"]
        self._endpoint = self._network_endpoint(response.json()["token"].get("catalog") or [])

    def _network_endpoint(self, catalog: list[dict[str, Any]]) -> str:
        for service in catalog:
            if service.get("type") != "network":
                continue
            for endpoint in service.get("endpoints") or []:
                region = self._cloud.region
                if endpoint.get("interface") == self._cloud.interface and (
                    not region or endpoint.get("region_id", endpoint.get("region")) == region
                ):
                    url = str(endpoint["url"]).rstrip("/")
                    return url if url.endswith("/v2.0") else f"{url}/v2.0"
        raise ConfigError("the service catalog has no network endpoint for this region")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        if not self._token:
            self._login()
        url = f"{self._endpoint}/{path}"
        response = self._http.request(method, url, json=body, headers={"X-Auth-Token": self._token})
        log.info("%s %s: %d", method, url, response.status_code)
        return response

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._call("POST", self.PATHS[kind], {kind: body})
        if response.status_code not in (200, 201):
            raise ConfigError(f"creating a {kind} failed ({response.status_code}): {response.text}")
        return dict(response.json()[kind])

    def read(self, kind: str, object_id: str) -> dict[str, Any] | None:
        response = self._call("GET", f"{self.PATHS[kind]}/{object_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ConfigError(f"reading {kind} {object_id} failed ({response.status_code})")
        return dict(response.json()[kind])

    def delete(self, kind: str, object_id: str) -> None:
        response = self._call("DELETE", f"{self.PATHS[kind]}/{object_id}")
        if response.status_code not in (204, 404):
            raise ConfigError(f"deleting {kind} {object_id} failed ({response.status_code})")


def connect(cloud: str) -> TaasApi:
    """The TaaS API of the ``clouds.yaml`` entry ``cloud``."""
    return NeutronTaas(read_cloud(cloud))
