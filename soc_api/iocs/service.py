"""Create, list and import IOCs; who sees each is decided by its TLP label (see tlp.py)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysoc.core.errors import NotFoundError
from soc_api.audit import service as audit
from soc_api.auth.models import Principal
from soc_api.auth.permissions import require_reader, require_triager
from soc_api.errors import InvalidRequestError
from soc_api.iocs.models import ImportReport, Ioc, IocCreate, IocKind, Tlp, join_audience
from soc_api.iocs.tlp import visible_filter

log = logging.getLogger(__name__)


def normalise(kind: IocKind, value: str) -> str:
    """The form an IOC is stored and matched in; InvalidRequestError when it cannot be one."""
    value = value.strip()
    if kind is IocKind.IP:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise InvalidRequestError(f"{value[:64]!r} is not an IP address") from None
    if kind in (IocKind.SHA256, IocKind.SHA1, IocKind.MD5):
        length = {IocKind.SHA256: 64, IocKind.SHA1: 40, IocKind.MD5: 32}[kind]
        if len(value) != length or any(c not in "0123456789abcdefABCDEF" for c in value):
            raise InvalidRequestError(f"{value[:80]!r} is not a {kind.value} hash")
        return value.lower()
    if kind is IocKind.DOMAIN:
        value = value.lower().rstrip(".")
        if not value or " " in value or "." not in value:
            raise InvalidRequestError(f"{value[:64]!r} is not a domain name")
    if not value:
        raise InvalidRequestError("an IOC needs a value")
    return value


def _owner(who: Principal) -> str | None:
    return None if who.city_wide else who.agency


def create_ioc(session: Session, *, data: IocCreate, who: Principal, source: str = "manual") -> Ioc:
    """Add an IOC owned by the caller's agency (the city SOC's when city-wide)."""
    require_triager(who)
    return add_ioc(session, data=data, who=who, source=source)[0]


def add_ioc(session: Session, *, data: IocCreate, who: Principal, source: str) -> tuple[Ioc, bool]:
    """The IOC and whether it is new (the caller's agency already holding it is no error)."""
    value = normalise(data.kind, data.value)
    owner = _owner(who)
    existing = session.scalars(
        select(Ioc).where(
            Ioc.kind == data.kind.value,
            Ioc.value == value,
            Ioc.owner_agency.is_(None) if owner is None else Ioc.owner_agency == owner,
        )
    ).first()
    if existing is not None:
        return existing, False
    ioc = Ioc(
        kind=data.kind.value,
        value=value,
        tlp=data.tlp.value,
        owner_agency=owner,
        audience=join_audience(data.audience) if data.tlp is Tlp.AMBER else "",
        severity=data.severity,
        description=data.description,
        source=source,
        created_by=who.actor,
        active=True,
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    session.add(ioc)
    session.flush()
    audit.append(
        session,
        actor=who.actor,
        action="ioc.create",
        object_type="ioc",
        object_id=ioc.id,
        agency=owner,
        detail={"kind": ioc.kind, "tlp": ioc.tlp, "source": source},
    )
    return ioc, True


def import_iocs(
    session: Session, *, items: Iterable[tuple[int, IocCreate | str]], who: Principal, source: str
) -> tuple[ImportReport, list[Ioc]]:
    """Create each parsed item; items that failed to parse arrive as (position, message)."""
    require_triager(who)
    created: list[Ioc] = []
    errors: list[dict[str, object]] = []
    duplicates = 0
    for position, item in items:
        if isinstance(item, str):
            errors.append({"item": position, "message": item})
            continue
        try:
            ioc, new = add_ioc(session, data=item, who=who, source=source)
        except InvalidRequestError as exc:
            errors.append({"item": position, "message": exc.message})
            continue
        if new:
            created.append(ioc)
        else:
            duplicates += 1
    report = ImportReport(
        created=len(created), duplicates=duplicates, rejected=len(errors), errors=errors[:1000]
    )
    log.info(
        "IOC import from %s: %d created, %d known, %d rejected",
        source,
        report.created,
        duplicates,
        report.rejected,
    )
    return report, created


def list_iocs(
    session: Session,
    *,
    who: Principal,
    kind: IocKind | None = None,
    tlp: Tlp | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Ioc]]:
    require_reader(who)
    query = select(Ioc).where(visible_filter(who))
    if kind:
        query = query.where(Ioc.kind == kind.value)
    if tlp:
        query = query.where(Ioc.tlp == tlp.value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Ioc.id.desc()).limit(limit).offset(offset)).all()
    return int(total), list(rows)


def get_ioc(session: Session, *, ioc_id: int, who: Principal) -> Ioc:
    require_reader(who)
    ioc = session.scalars(select(Ioc).where(Ioc.id == ioc_id, visible_filter(who))).first()
    if ioc is None:
        raise NotFoundError(f"no IOC {ioc_id}")
    return ioc
