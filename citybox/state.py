"""What a running box is made of, kept in its folder so that ``box down`` removes exactly it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class HostState(BaseModel):
    name: str
    netns: str
    address: str
    segment: str
    soc: bool
    pid: int | None = None
    root: str = ""
    boot_seconds: float | None = None


class BoxState(BaseModel):
    stack: str
    operator_address: str = ""
    server_pid: int | None = None
    hosts: list[HostState] = Field(default_factory=list)
    routers: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> BoxState | None:
        if not path.is_file():
            return None
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
