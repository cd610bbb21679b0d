"""Signed checkpoints of the audit chain's head, kept outside the SOC database.

The hash chain alone proves that rows fit together, not that they are all there: deleting
the last rows, or rewriting a row and re-hashing every row after it, leaves a chain that
verifies. So at intervals the head of the chain (its last id, its hash, how many entries)
is sealed into a checkpoint signed with Ed25519 and appended to
``<data dir>/audit-checkpoints.jsonl``, and each checkpoint is also written to the event
store (``event.dataset`` ``citysoc.audit``, event id ``citysoc-audit-checkpoint-<n>`` for
the n-th), which lives apart from the SOC database (often on other hosts): cutting or
editing the file is then found against the store's copies. The signing key is generated on
first use into ``<data dir>/audit-signing.key`` (mode 0600) with its public half beside
it; keep a copy of the public key away from the SOC host and verify with it.

:func:`verify_anchored` checks the chain, then every checkpoint's signature, then that each
checkpoint's entry still exists with the sealed hash and the sealed number of entries up to
it: truncation and re-hashing are named with the entries that are missing or rewritten.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from citysoc.core.errors import CitysocError
from citysoc.core.keys import key_id, load_private_key, load_public_key, private_pem, public_pem
from eventstore.base import EventStore
from soc_api.audit.models import AuditEntry
from soc_api.audit.service import verify_chain
from soc_api.auth.secret import create_private_file, refuse_open_file

log = logging.getLogger(__name__)

CHECKPOINTS = "audit-checkpoints.jsonl"
PRIVATE_KEY = "audit-signing.key"
PUBLIC_KEY = "audit-signing.pub"
MAX_LINE = 4096
STORE_DATASET = "citysoc.audit"
STORE_ID = "citysoc-audit-checkpoint-{}"
STORE_FIELD = "citysoc.audit.checkpoint"
PROBE = 16  # store copies looked for past the file's last checkpoint, per round


class Checkpoint(BaseModel):
    """One sealed head: ``entries`` rows up to and including ``last_id``, whose hash is
    ``head``; signed over the canonical JSON of every other field."""

    entries: int
    last_id: int
    head: str
    at: str
    key_id: str
    signature: str = ""

    def payload(self) -> bytes:
        fields = self.model_dump(exclude={"signature"})
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


class AnchorReport(BaseModel):
    """The chain checked against its checkpoints; ``problems`` name what is wrong."""

    entries: int
    chain_intact: bool
    checkpoints: int
    latest: Checkpoint | None = None
    problems: list[str] = []

    @property
    def ok(self) -> bool:
        return self.chain_intact and not self.problems


def signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """This install's signing key, made on first use (private half 0600, public half 0644)."""
    path = data_dir / PRIVATE_KEY
    if not path.exists():
        fresh = Ed25519PrivateKey.generate()
        if create_private_file(path, private_pem(fresh)):
            (data_dir / PUBLIC_KEY).write_bytes(public_pem(fresh.public_key()))
            log.info("generated the audit signing key %s", key_id(fresh.public_key()))
    refuse_open_file(path)
    return load_private_key(path)


def read_checkpoints(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints of a file, and a problem per line that is not one."""
    found: list[Checkpoint] = []
    problems: list[str] = []
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            if len(line) > MAX_LINE:
                raise ValueError("line too long")
            found.append(Checkpoint.model_validate_json(line))
        except (ValidationError, ValueError) as exc:
            problems.append(f"{path.name} line {number} is not a checkpoint: {str(exc)[:120]}")
    return found, problems


def _head(session: Session) -> tuple[int, int, str] | None:
    """``(entries, last id, last hash)`` of the chain now, or None when it is empty."""
    last = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if last is None:
        return None
    count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return int(count), int(last[0]), str(last[1])


def _store_event(number: int, checkpoint: Checkpoint) -> dict[str, object]:
    return {
        "event.id": STORE_ID.format(number),
        "@timestamp": checkpoint.at,
        "event.kind": "state",
        "event.dataset": STORE_DATASET,
        "event.action": "audit-checkpoint",
        STORE_FIELD: checkpoint.model_dump_json(),
    }


def ship(store: EventStore, checkpoints: list[Checkpoint]) -> int:
    """Write to the event store the checkpoints it does not hold yet; how many were written.
    A failure is logged: the file keeps them, and the next seal ships them again."""
    ids = [STORE_ID.format(n) for n in range(1, len(checkpoints) + 1)]
    try:
        held = {str(e.get("event.id")) for e in store.get(ids)}
        missing = [
            _store_event(n, c)
            for n, c in enumerate(checkpoints, start=1)
            if STORE_ID.format(n) not in held
        ]
        if missing:
            store.write(missing)
    except CitysocError as exc:
        log.warning("audit checkpoints not shipped to the event store (kept in the file): %s", exc)
        return 0
    return len(missing)


def seal(session: Session, data_dir: Path, store: EventStore | None = None) -> Checkpoint | None:
    """Append a signed checkpoint of the chain's head, unless it is already sealed; ship
    the checkpoints to ``store`` too when given."""
    head = _head(session)
    if head is None:
        return None
    path = data_dir / CHECKPOINTS
    sealed, _ = read_checkpoints(path)
    if sealed and (sealed[-1].last_id, sealed[-1].head) == head[1:]:
        if store is not None:
            ship(store, sealed)
        return None
    key = signing_key(data_dir)
    checkpoint = Checkpoint(
        entries=head[0],
        last_id=head[1],
        head=head[2],
        at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        key_id=key_id(key.public_key()),
    )
    checkpoint.signature = base64.b64encode(key.sign(checkpoint.payload())).decode()
    with path.open("ab") as out:
        out.write(checkpoint.model_dump_json().encode() + b"\n")
        out.flush()
        os.fsync(out.fileno())
    log.info("audit chain sealed at entry %d (%d entries)", checkpoint.last_id, checkpoint.entries)
    if store is not None:
        ship(store, [*sealed, checkpoint])
    return checkpoint


def _store_copies(store: EventStore, known: int) -> dict[int, Checkpoint | str]:
    """The store's checkpoints by number: the file's ``known`` and any past them."""
    found: dict[int, Checkpoint | str] = {}
    start, upto = 1, known + PROBE
    while True:
        ids = {STORE_ID.format(n): n for n in range(start, upto + 1)}
        for event in store.get(list(ids)):
            number = ids.get(str(event.get("event.id")), 0)
            try:
                found[number] = Checkpoint.model_validate_json(str(event.get(STORE_FIELD, "")))
            except ValidationError:
                found[number] = "not a checkpoint"
        if max(found, default=0) <= upto - PROBE:  # nothing in the last numbers looked at
            return found
        start, upto = upto + 1, upto + PROBE


def _compare_with_store(
    checkpoints: list[Checkpoint], store: EventStore, report: AnchorReport
) -> list[Checkpoint]:
    """Problems where the file and the store's copies disagree; the checkpoints to verify
    (the file's, and those only the store still has)."""
    try:
        copies = _store_copies(store, len(checkpoints))
    except CitysocError as exc:
        report.problems.append(f"the event store's copies of the checkpoints are unreadable: {exc}")
        return checkpoints
    extra: list[Checkpoint] = []
    for number, copy in sorted(copies.items()):
        mine = checkpoints[number - 1] if number <= len(checkpoints) else None
        if isinstance(copy, str):
            report.problems.append(f"the event store's checkpoint {number} is {copy}")
        elif mine is None:
            report.problems.append(
                f"the checkpoint file lost checkpoint {number} (sealed {copy.at} at entry "
                f"{copy.last_id}): the event store still holds it"
            )
            extra.append(copy)
        elif mine != copy:
            report.problems.append(
                f"checkpoint {number} in the file (entry {mine.last_id}, sealed {mine.at}) "
                f"differs from its copy in the event store (entry {copy.last_id}, sealed "
                f"{copy.at})"
            )
            extra.append(copy)
    return [*checkpoints, *extra]


def verify_anchored(
    session: Session,
    data_dir: Path,
    public_key: Ed25519PublicKey | None = None,
    store: EventStore | None = None,
) -> AnchorReport:
    """The chain, then each checkpoint (signed by ``public_key``, by default the one in
    ``data_dir``) against the rows it sealed; with ``store``, the file against the store's
    copies too (a cut or edited file is named, and the store's copies are verified)."""
    chain = verify_chain(session)
    report = AnchorReport(entries=chain.entries, chain_intact=chain.intact, checkpoints=0)
    if not chain.intact:
        report.problems.append(f"entry {chain.first_broken_id}: {chain.problem}")
    checkpoints, unreadable = read_checkpoints(data_dir / CHECKPOINTS)
    report.problems.extend(unreadable)
    if store is not None:
        checkpoints = _compare_with_store(checkpoints, store, report)
    report.checkpoints = len(checkpoints)
    if not checkpoints:
        return report
    if public_key is None:
        public_key = load_public_key(data_dir / PUBLIC_KEY)
    valid = [c for c in checkpoints if _signed(c, public_key, report)]
    for checkpoint in valid:
        _check(session, checkpoint, report)
    report.latest = valid[-1] if valid else None
    return report


def _signed(checkpoint: Checkpoint, public: Ed25519PublicKey, report: AnchorReport) -> bool:
    try:
        public.verify(base64.b64decode(checkpoint.signature), checkpoint.payload())
    except (InvalidSignature, ValueError):
        report.problems.append(
            f"checkpoint of entry {checkpoint.last_id} sealed {checkpoint.at}: bad signature "
            f"(key {checkpoint.key_id}, verifying with {key_id(public)})"
        )
        return False
    return True


def _check(session: Session, checkpoint: Checkpoint, report: AnchorReport) -> None:
    sealed = f"sealed {checkpoint.at} at entry {checkpoint.last_id} ({checkpoint.entries} entries)"
    row_hash = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == checkpoint.last_id))
    upto = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= checkpoint.last_id)
    )
    upto = int(upto or 0)
    if row_hash is None:
        last = session.scalar(select(func.max(AuditEntry.id))) or 0
        report.problems.append(
            f"truncated: the checkpoint {sealed} names entries the log no longer has; it ends "
            f"at entry {last}: {checkpoint.entries - upto} sealed entries are missing "
            f"(entries {int(last) + 1}-{checkpoint.last_id} at least)"
        )
    elif upto != checkpoint.entries:
        report.problems.append(
            f"entries removed: the checkpoint {sealed}; the log now has {upto} entries up to "
            f"it: {checkpoint.entries - upto} missing"
        )
    elif row_hash != checkpoint.head:
        report.problems.append(
            f"rewritten: the checkpoint {sealed} sealed hash {checkpoint.head[:16]}, the log "
            f"now has {str(row_hash)[:16]}: entries up to {checkpoint.last_id} were changed "
            "and re-hashed"
        )


@dataclass
class Sealer:
    """Seals the chain every ``interval`` seconds in a background thread, and once at stop."""

    sessions: sessionmaker[Session]
    data_dir: Path
    interval: float
    store: EventStore | None = None
    _stop: threading.Event | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
        self._thread.start()

    def seal_now(self) -> Checkpoint | None:
        try:
            with self.sessions() as session:
                return seal(session, self.data_dir, self.store)
        except Exception:  # a failed seal is logged; the next interval tries again
            log.exception("could not seal the audit chain")
            return None

    def _run(self) -> None:
        assert self._stop is not None
        while not self._stop.wait(self.interval):
            self.seal_now()

    def stop(self) -> None:
        if self._stop is not None and self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=10)
        self.seal_now()
