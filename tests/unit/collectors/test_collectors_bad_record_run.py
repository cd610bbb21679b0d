"""One bad record no longer ends a run: ``citysoc collect`` stores the good lines and exits 0.

The reproducers, as the command line met them: an EVE record whose ``flow_id`` is a lone
surrogate (``UnicodeEncodeError`` in the event id) and a syslog line whose process id has
4,301 digits (``ValueError`` from ``int()``) each ended the whole run with rc=1, the good
lines of the same file not stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from citysoc.cli.main import main
from citysoc.core.settings import Settings
from eventstore.open import open_event_store

BAD_EVE = '{"timestamp":"2026-11-20T02:00:09.000123+0000","event_type":"dns","flow_id":"\\ud800"}'
GOOD_EVE = (
    '{"timestamp":"2026-11-20T02:00:10.000000+0000","event_type":"dns","flow_id":7,'
    '"src_ip":"10.31.0.21","dest_ip":"10.10.1.53","dns":{"type":"query","rrname":"a.example"}}'
)
BAD_SYSLOG = b"<38>Nov 20 02:10:01 h sshd[" + b"1" * 4301 + b"]: x"
GOOD_SYSLOG = b"<38>Nov 20 02:10:04 h sshd[13]: Accepted password for op from 192.0.2.8 port 22"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYSOC_DATA_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def stored(data_dir: Path) -> int:
    store = open_event_store(Settings(data_dir=data_dir))
    try:
        return store.count()
    finally:
        store.close()


def test_an_eve_record_with_a_lone_surrogate_keeps_the_run(tmp_path: Path, data_dir: Path) -> None:
    eve = tmp_path / "eve.json"
    eve.write_text(f"{GOOD_EVE}\n{BAD_EVE}\n{GOOD_EVE.replace(':7,', ':8,')}\n")
    assert main(["collect", "eve", str(eve)]) == 0
    assert stored(data_dir) == 3  # the surrogate is replaced; nothing is lost


def test_a_syslog_pid_of_thousands_of_digits_keeps_the_run(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(BAD_SYSLOG + b"\n" + GOOD_SYSLOG + b"\n")
    assert main(["collect", "syslog", str(log)]) == 0
    assert stored(data_dir) == 2  # the bad pid is left out of its event, counted
    said = capsys.readouterr()
    assert "syslog-bad-pid" in said.out + said.err  # the run's summary counts it
