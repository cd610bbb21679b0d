"""The console's message catalogue: Vietnamese by default, English on request.

Catalogues are JSON files (``messages/<lang>.json``) mapping a message key to its text; both
hold the same keys (a test checks it). A key missing from a language is logged and counted,
then falls back to English, then to the key itself, so a page still renders.

Numbers and times are written as each language writes them: ``1.234,5`` and ``02/12/2026
04:46:36`` in Vietnamese, ``1,234.5`` and ``2026-12-02 04:46:36`` in English.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
COOKIE = "citysoc_lang"
MESSAGES = Path(__file__).with_name("messages")
TIME_FORMATS = {"vi": "%d/%m/%Y %H:%M:%S", "en": "%Y-%m-%d %H:%M:%S"}
DATE_FORMATS = {"vi": "%d/%m/%Y", "en": "%Y-%m-%d"}
SEPARATORS = {"vi": (".", ","), "en": (",", ".")}  # (thousands, decimal)

missing: Counter[tuple[str, str]] = Counter()  # (language, key) -> times asked for


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((MESSAGES / f"{language}.json").read_text("utf-8"))
    return data


def translator(language: str) -> Callable[..., str]:
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    own, english = catalogue(language), catalogue("en")

    def translate(key: str, **values: object) -> str:
        text = own.get(key)
        if text is None:
            if not missing[(language, key)]:
                log.warning("the %s catalogue has no message %r", language, key)
            missing[(language, key)] += 1
            text = english.get(key) or key
        return text.format(**values) if values else text

    return translate


def has_message(language: str, key: str) -> bool:
    return key in catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def format_number(value: float | int | str | None, language: str, digits: int = 0) -> str:
    """``1234.5`` as ``1.234,5`` (vi) or ``1,234.5`` (en); text that is no number is kept."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    try:
        number = float(value)
    except ValueError:
        return str(value)
    thousands, decimal = SEPARATORS.get(language, SEPARATORS["en"])
    text = f"{number:,.{digits}f}"
    swap: dict[str, str | int | None] = {",": thousands, ".": decimal}
    return text.translate(str.maketrans(swap))


def format_time(value: str | datetime | None, language: str, *, date_only: bool = False) -> str:
    """An ISO 8601 time (``2026-12-02T04:46:36.123Z``) as the language writes it, in UTC as
    stored; text that is not a time is returned as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    formats = DATE_FORMATS if date_only else TIME_FORMATS
    return when.strftime(formats.get(language, formats["en"]))
