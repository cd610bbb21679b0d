"""The console's Releases page: history of analytics bundles with their gate results and
changes, which one is deployed, and promote / roll back for ops."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from soc_api.console.common import check_csrf, render
from soc_api.console.views import Csrf, require_console_user, to_login
from soc_api.deps import MaybeAnalyst, ObjectId, SessionDep
from soc_api.releases.service import CHANGERS, history, promote, rollback

router = APIRouter(include_in_schema=False)
Note = Annotated[str, Form(max_length=2000)]


@router.get("/releases", response_class=HTMLResponse)
def releases_page(request: Request, session: SessionDep, analyst: MaybeAnalyst) -> Response:
    if analyst is None:
        return to_login()
    found = history(session, who=analyst)
    return render(
        request,
        "releases.html",
        {"analyst": analyst, "history": found, "may_change": analyst.role in CHANGERS},
    )


@router.post("/releases/{release_id}/promote")
def promote_form(
    request: Request,
    session: SessionDep,
    analyst: MaybeAnalyst,
    csrf: Csrf,
    release_id: ObjectId,
    note: Note = "",
) -> Response:
    check_csrf(request, csrf)
    promote(session, release_id=release_id, who=require_console_user(analyst), note=note)
    session.commit()
    return RedirectResponse("/releases", status_code=303)


@router.post("/releases/rollback")
def rollback_form(
    request: Request, session: SessionDep, analyst: MaybeAnalyst, csrf: Csrf, note: Note = ""
) -> Response:
    check_csrf(request, csrf)
    rollback(session, who=require_console_user(analyst), note=note)
    session.commit()
    return RedirectResponse("/releases", status_code=303)
