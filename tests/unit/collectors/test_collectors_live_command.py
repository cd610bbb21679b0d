"""The tshark command line of a live capture."""

from __future__ import annotations

from collectors.sources.live import LiveOptions, capture_command


def test_capture_inside_a_namespace_with_a_larger_kernel_buffer() -> None:
    command = capture_command(LiveOptions(interface="mon0", netns="crg-sensor", buffer_mib=128))
    assert command[:4] == ["ip", "netns", "exec", "crg-sensor"]
    assert command[command.index("-B") + 1] == "128"
    assert command[command.index("-i") + 1] == "mon0"


def test_default_buffer_is_tsharks_own() -> None:
    assert "-B" not in capture_command(LiveOptions(interface="eth0"))
