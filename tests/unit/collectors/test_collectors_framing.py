"""RFC 6587 framing of syslog over TCP, with property tests on arbitrary byte streams."""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed")

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.sources.framing import Frame, FrameDecoder


def frames(*chunks: bytes, max_message: int = 64) -> list[Frame]:
    decoder = FrameDecoder(max_message)
    got = [f for chunk in chunks for f in decoder.feed(chunk)]
    return got + decoder.finish()


def test_newline_framing() -> None:
    assert [f.data for f in frames(b"<13>one\n<13>two\r\n")] == [b"<13>one", b"<13>two"]


def test_octet_counting_keeps_newlines_inside_the_message() -> None:
    assert [f.data for f in frames(b"9 <13>a\nb c8 <13>next")] == [b"<13>a\nb c", b"<13>next"]


def test_both_framings_on_one_connection_split_anywhere() -> None:
    stream = b"5 <1>ab<2>line\n7 <3>cdef"
    expected = [b"<1>ab", b"<2>line", b"<3>cdef"]
    for cut in range(len(stream) + 1):
        assert [f.data for f in frames(stream[:cut], stream[cut:])] == expected


def test_an_oversized_octet_counted_frame_is_truncated_and_the_rest_skipped() -> None:
    got = frames(b"100 " + b"A" * 100 + b"5 <1>ok", max_message=10)
    assert got == [Frame(b"A" * 10, truncated=True), Frame(b"<1>ok")]


def test_an_oversized_line_is_truncated_and_the_rest_skipped() -> None:
    got = frames(b"B" * 30, b"B" * 30 + b"\n<1>after\n", max_message=16)
    assert got == [Frame(b"B" * 16, truncated=True), Frame(b"<1>after")]


def test_what_follows_an_oversized_line_in_the_same_chunk_is_kept() -> None:
    got = frames(b"C" * 40 + b"\n<1>next\n", max_message=16)
    assert got == [Frame(b"C" * 16, truncated=True), Frame(b"<1>next")]


def test_an_unterminated_last_message_is_kept_at_close() -> None:
    assert [f.data for f in frames(b"<1>a\n<1>tail")] == [b"<1>a", b"<1>tail"]


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_any_stream_decodes_the_same_however_it_is_split(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    whole, split = frames(data, max_message=32), frames(*chunks, max_message=32)
    assert whole == split
    assert all(len(f.data) <= 32 for f in whole)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.binary(min_size=1, max_size=40), max_size=8))
def test_octet_counted_messages_come_back_exactly(messages: list[bytes]) -> None:
    messages = [m.rstrip(b"\r\n") or b"x" for m in messages]
    stream = b"".join(b"%d %s" % (len(m), m) for m in messages)
    got = frames(stream, max_message=64)
    assert [f.data for f in got] == messages
