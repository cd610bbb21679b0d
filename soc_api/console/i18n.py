"""The console's message catalogue: Vietnamese by default, English on request.

Catalogues are JSON files (``messages/<lang>.json``) mapping a message key to its text; a key
missing from a language falls back to English, then to the key itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
COOKIE = "citysoc_lang"
MESSAGES = Path(__file__).with_name("messages")


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((MESSAGES / f"{language}.json").read_text("utf-8"))
    return data


def translator(language: str) -> Callable[..., str]:
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    own, english = catalogue(language), catalogue("en")

    def translate(key: str, **values: object) -> str:
        text = own.get(key) or english.get(key) or key
        return text.format(**values) if values else text

    return translate
