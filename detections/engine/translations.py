"""A rule's title and description in the console's other languages.

A rule is written in English; its ``translations`` attribute gives the same title and
description in another language, keyed by language code::

    translations:
      vi:
        title: Dò quét cổng từ Internet vào mạng camera
        description: Một địa chỉ ngoài thành phố ...

A malformed entry is a :class:`RuleError` naming the rule's file.
"""

from __future__ import annotations

from collections.abc import Mapping

from citysoc.core.errors import Location, RuleError

LANGUAGES = ("vi",)  # besides English, the language rules are written in

Translation = tuple[str, str, str]  # (language, title, description)


def read_translations(attrs: Mapping[str, object], where: Location) -> tuple[Translation, ...]:
    """The ``translations`` attribute as (language, title, description) triples."""
    raw = attrs.get("translations")
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise RuleError("translations must map a language to a text", location=where)
    found = []
    for language, text in raw.items():
        if language not in LANGUAGES:
            raise RuleError(f"translations: unknown language {language!r}", location=where)
        if not isinstance(text, Mapping):
            message = f"translations.{language} must hold a title and a description"
            raise RuleError(message, location=where)
        title, description = text.get("title"), text.get("description")
        for name, value in (("title", title), ("description", description)):
            if not isinstance(value, str) or not value.strip():
                message = f"translations.{language}.{name} is missing or empty"
                raise RuleError(message, location=where)
        found.append((str(language), str(title).strip(), " ".join(str(description).split())))
    return tuple(found)


def translated(
    translations: tuple[Translation, ...], language: str, title: str, description: str
) -> tuple[str, str]:
    """The (title, description) in ``language``, or the English ones when there is none."""
    for lang, own_title, own_description in translations:
        if lang == language:
            return own_title, own_description
    return title, description
