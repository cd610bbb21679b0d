"""Community ID v1 against the specification's published baseline (seed 0) and its example."""

from __future__ import annotations

import pytest

from collectors.community_id import community_id, protocol_number

# (protocol, source, destination, source port or ICMP type, destination port or ICMP code, id):
# the specification's baseline values for its sample captures, default seed.
BASELINE = [
    (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),  # noqa: E501
    (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),  # noqa: E501
    (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, "1:zavyT/cezQr1fmImYCwYnMXbgck="),  # noqa: E501
    (58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="),  # noqa: E501
    (58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0="),  # noqa: E501
    (58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="),  # noqa: E501
    (58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="),  # noqa: E501
    (58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="),
    (58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00="),
    (1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
    (1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
    (1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="),
    (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),  # noqa: E501
    (6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),  # noqa: E501
    (132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
    (132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
    (6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    (17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    (46, "10.1.12.1", "10.1.12.2", None, None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
    (46, "10.1.12.2", "10.1.12.1", None, None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
]  # fmt: skip


@pytest.mark.parametrize(("proto", "src", "dst", "sport", "dport", "expected"), BASELINE)
def test_the_specifications_baseline(
    proto: int, src: str, dst: str, sport: int | None, dport: int | None, expected: str
) -> None:
    assert community_id(src, dst, proto, sport, dport) == expected


def test_the_seed_changes_the_hash() -> None:
    plain = community_id("128.232.110.120", "66.35.250.204", 6, 34855, 80)
    seeded = community_id("128.232.110.120", "66.35.250.204", 6, 34855, 80, seed=1)
    assert plain != seeded and seeded is not None and seeded.startswith("1:")


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("10.0.0.1", "::1", 6, 1, 2), "mixed families"),
        (("10.0.0.1", "not-an-ip", 6, 1, 2), "not an address"),
        (("10.0.0.1", "10.0.0.2", 6, None, 2), "TCP without a port"),
        (("10.0.0.1", "10.0.0.2", 17, 1, 70000), "port out of range"),
        (("10.0.0.1", "10.0.0.2", 1, None, None), "ICMP without type and code"),
    ],
)
def test_tuples_that_make_no_id(
    args: tuple[str, str, int, int | None, int | None], why: str
) -> None:
    assert community_id(*args) is None, why


def test_protocol_numbers_from_suricatas_names() -> None:
    assert [protocol_number(p) for p in ("TCP", "UDP", "ICMP", "IPv6-ICMP", "SCTP", "47")] == [
        6, 17, 1, 58, 132, 47,
    ]  # fmt: skip
    assert protocol_number("WHAT") is None and protocol_number("300") is None
