"""Render a rule's runbook (Markdown with Jinja2 placeholders) for one alert.

Templates run in Jinja2's sandbox: alert fields come from observed traffic, and a runbook
must not be able to reach anything but the alert it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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


def _english(key: str, **values: object) -> str:
    return ENGLISH_NOTES[key].format(**values)


ENGLISH_NOTES = {
    "runbook.none": "This rule names no runbook.",
    "runbook.broken": "Runbook {name} could not be rendered: {problem}.",
}


def render_runbook(
    name: str,
    alert: Any,
    root: Path = RUNBOOKS_ROOT,
    *,
    language: str = "en",
    say: Callable[..., str] = _english,
    title: str | None = None,
) -> str:
    """The runbook as Markdown for this alert, in ``language`` where the runbook has been
    translated (``runbooks/<language>/<name>``); a short note, worded by ``say``, when it is
    missing or broken. Templates see ``alert`` and ``title``, the alert's title in the
    language (its own title by default)."""
    if not name:
        return f"_{say('runbook.none')}_"
    translated = f"{language}/{name}"
    chosen = translated if language != "en" and (root / translated).is_file() else name
    try:
        template = _environment(root).get_template(chosen)
        return template.render(alert=alert, title=alert.title if title is None else title)
    except TemplateError as exc:
        log.warning("runbook %s could not be rendered: %s", chosen, exc)
        problem = exc.message or type(exc).__name__
        return f"_{say('runbook.broken', name=f'`{chosen}`', problem=problem)}_"


def markdown_to_html(text: str) -> Markup:
    """Markdown to HTML with raw HTML escaped and unsafe link schemes refused."""
    return Markup(_MARKDOWN.render(text))  # noqa: S704 - markdown-it escapes raw HTML (html=False)
