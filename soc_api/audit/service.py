"""Append to the audit chain and prove it.

Each row's hash is SHA-256 over the previous row's hash and the row's canonical JSON content.
Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by the
database's single writer (the row is inserted first, taking the write lock, and only then
linked to its predecessor). Changing, deleting or reordering any row breaks the chain from
that row on, and :func:`verify_chain` names the first broken one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from soc_api.audit.models import GENESIS, AuditEntry, ChainReport
from soc_api.auth.models import Principal

log = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x50C_A0D17


def content_hash(entry: AuditEntry, prev_hash: str) -> str:
    content = {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "agency": entry.agency,
        "detail": entry.detail,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    agency: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (committed with the change it records)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    entry = AuditEntry(
        at=datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        agency=agency,
        detail=detail or {},
        prev_hash=GENESIS,
        hash="",
    )
    session.add(entry)
    session.flush()
    previous = session.scalar(
        select(AuditEntry.hash).where(AuditEntry.id < entry.id).order_by(AuditEntry.id.desc())
    )
    entry.prev_hash = previous or GENESIS
    entry.hash = content_hash(entry, entry.prev_hash)
    session.flush()
    return entry


def record_refusal(
    sessions: sessionmaker[Session],
    *,
    who: Principal | None,
    method: str,
    path: str,
    reason: str,
) -> None:
    """Audit a refused (403) request, in a transaction of its own: the request's work is
    rolled back, the refusal is kept."""
    try:
        with sessions() as session, session.begin():
            append(
                session,
                actor=who.actor if who is not None else "anonymous",
                action="request.refused",
                object_type="route",
                object_id=f"{method} {path}"[:64],
                agency=who.agency if who is not None else None,
                detail={"method": method, "path": path[:256], "reason": reason[:256]},
            )
    except SQLAlchemyError:
        log.exception("could not audit a refused %s %s", method, path[:256])


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Walk the chain in id order; report the first row whose link or hash does not hold."""
    previous, count, after = GENESIS, 0, 0
    while True:
        rows: Sequence[AuditEntry] = session.scalars(
            select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(entries=count, intact=True)
        for row in rows:
            problem = _check(row, previous)
            if problem:
                log.warning("audit chain broken at entry %d: %s", row.id, problem)
                return ChainReport(
                    entries=count, intact=False, first_broken_id=row.id, problem=problem
                )
            previous, count, after = row.hash, count + 1, row.id


def _check(row: AuditEntry, previous: str) -> str | None:
    if row.prev_hash != previous:
        return "its link to the previous entry does not match (an entry was removed or changed)"
    if row.hash != content_hash(row, previous):
        return "its content does not match its hash (the entry was altered)"
    return None


def list_entries(
    session: Session,
    *,
    agencies: Sequence[str] | None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[AuditEntry]]:
    query = select(AuditEntry)
    if agencies is not None:
        query = query.where(AuditEntry.agency.in_(agencies))
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return int(total), list(rows)


def read_log(
    session: Session,
    *,
    who: Principal,
    object_type: str | None,
    object_id: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[AuditEntry]]:
    """:func:`list_entries` as ``who`` may see them, the read itself appended to the log."""
    total, rows = list_entries(
        session,
        agencies=who.agencies,
        object_type=object_type,
        object_id=object_id,
        limit=limit,
        offset=offset,
    )
    append(
        session,
        actor=who.actor,
        action="audit.read",
        object_type="audit",
        object_id="log",
        agency=who.agency,
        detail={"object_type": object_type, "object_id": object_id},
    )
    return total, rows
