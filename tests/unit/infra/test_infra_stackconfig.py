"""The stack's ``citysoc:*`` keys: what is accepted, and the clear refusals."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.stackconfig import StackConfig


def test_the_package_source_gives_its_network_and_port() -> None:
    config = StackConfig.model_validate({"packageSource": "http://10.60.0.8:3142"})
    assert config.package_source_cidr == ip_network("10.60.0.8/32")
    assert config.package_source_port == 3142
    named = StackConfig.model_validate(
        {"packageSource": "https://apt.city.test", "packageSourceCidr": "10.70.0.0/28"}
    )
    assert named.package_source_port == 443
    assert named.package_source_cidr == ip_network("10.70.0.0/28")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"packageSource": "https://apt.city.test"}, "set packageSourceCidr"),
        ({"packageSource": "ftp://10.0.0.1"}, "not an http"),
        ({"operatorCidr": "203.0.113.1/28"}, "not a network with a prefix"),
        ({"ntpServers": ["pool.ntp.test"]}, "not an IP address"),
        ({"operatorCidrs": "203.0.113.0/28"}, "Extra inputs"),
        ({"aptRepository": "http://10.60.0.8:3142/citysoc"}, "needs aptRepositoryKey"),
    ],
)
def test_bad_values_are_refused_with_the_reason(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StackConfig.model_validate(values)


def test_the_inventory_names_only_the_sources_that_are_set() -> None:
    config = StackConfig.model_validate(
        {"packageSource": "http://10.60.0.8:3142", "wheelsUrl": "https://releases.city.test/w/"}
    )
    assert config.package_sources == {
        "proxy": "http://10.60.0.8:3142",
        "wheels": "https://releases.city.test/w/",
    }
    assert StackConfig().package_sources == {}


def test_no_operator_network_by_default() -> None:
    assert StackConfig().operator_cidr is None and StackConfig().package_source == ""


def test_the_environments_topology_wins_over_the_stacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from citysoc.core.settings import Settings
    from infra.program import REPO, chosen_topology

    stack = StackConfig.model_validate({"topology": "citysoc/core/cities/hcmc.yml"})
    monkeypatch.delenv("CITYSOC_TOPOLOGY_PATH", raising=False)
    assert chosen_topology(stack, Settings()) == REPO / "citysoc/core/cities/hcmc.yml"
    monkeypatch.setenv("CITYSOC_TOPOLOGY_PATH", str(tmp_path / "other.yml"))
    assert chosen_topology(stack, Settings()) == tmp_path / "other.yml"


def test_a_flat_apt_repository_comes_with_the_key_that_signs_it() -> None:
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...\n-----END PGP PUBLIC KEY BLOCK-----\n"
    config = StackConfig.model_validate(
        {"aptRepository": "http://10.60.0.8:3142/citysoc", "aptRepositoryKey": key}
    )
    assert config.package_sources == {"apt": "http://10.60.0.8:3142/citysoc", "apt_key": key}
