"""Render a rule's runbook (Markdown with Jinja2 placeholders) for one alert.

Templates run in Jinja2's sandbox: alert fields come from observed traffic, and a runbook
must not be able to reach anything but the alert it is given.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

from detections.engine.catalog import RUNBOOKS_ROOT

log = logging.getLogger(__name__)

_MARKDOWN = MarkdownIt("commonmark", {"html": False})


@lru_cache(maxsize=4)
def _environment(root: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(root), autoescape=False, undefined=StrictUndefined
    )


def render_runbook(name: str, alert: Any, root: Path = RUNBOOKS_ROOT) -> str:
    """The runbook as Markdown for this alert; a short note when it is missing or broken."""
    if not name:
        return "_This rule names no runbook._"
    try:
        return _environment(root).get_template(name).render(alert=alert)
    except TemplateError as exc:
        log.warning("runbook %s could not be rendered: %s", name, exc)
        return f"_Runbook `{name}` could not be rendered: {exc.message or type(exc).__name__}._"


def markdown_to_html(text: str) -> Markup:
    """Markdown to HTML with raw HTML escaped and unsafe link schemes refused."""
    return Markup(_MARKDOWN.render(text))  # noqa: S704 - markdown-it escapes raw HTML (html=False)
