"""Where each incremental job got to, kept in the SOC state so restarts resume."""

from __future__ import annotations

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from soc_api.db import Base


class Checkpoint(Base):
    __tablename__ = "checkpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


def read(session: Session, name: str) -> int:
    value = session.scalar(select(Checkpoint.position).where(Checkpoint.name == name))
    return int(value or 0)


def write(session: Session, name: str, position: int) -> None:
    row = session.get(Checkpoint, name)
    if row is None:
        session.add(Checkpoint(name=name, position=position))
    else:
        row.position = position
