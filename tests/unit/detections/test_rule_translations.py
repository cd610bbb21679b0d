"""Every rule speaks Vietnamese: a title and a description beside the English ones, written
with their diacritics, and a malformed translation is refused with the rule's file named."""

from __future__ import annotations

import re

import pytest

from citysoc.core.errors import Location, RuleError
from detections.engine.catalog import load_catalog
from detections.engine.compiler import compile_catalog
from detections.engine.translations import read_translations, translated

VIETNAMESE_LETTERS = re.compile(
    r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.IGNORECASE
)


def test_every_rule_has_a_vietnamese_title_and_description() -> None:
    catalog = load_catalog()
    assert not catalog.errors, catalog.errors
    missing, english = [], []
    for folder in catalog.folders:
        texts = read_translations(folder.rule.custom_attributes, Location(str(folder.path)))
        vi = [t for t in texts if t[0] == "vi"]
        if not vi:
            missing.append(folder.name)
            continue
        _, title, description = vi[0]
        if title == folder.rule.title or not VIETNAMESE_LETTERS.search(title + description):
            english.append(folder.name)
    assert not missing, f"rules without translations.vi: {missing}"
    assert not english, f"rules whose Vietnamese text is English or lacks diacritics: {english}"


def test_compiled_rules_carry_their_translations() -> None:
    compiled = compile_catalog(load_catalog())
    assert compiled.rules and all(r.translations for r in compiled.rules)
    rule = compiled.rules[0]
    title, _ = translated(rule.translations, "vi", rule.title, rule.description)
    assert title != rule.title
    assert translated(rule.translations, "en", rule.title, "d") == (rule.title, "d")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Tiêu đề", "must map a language"),
        ({"fr": {"title": "x", "description": "y"}}, "unknown language 'fr'"),
        ({"vi": "Tiêu đề"}, "must hold a title and a description"),
        ({"vi": {"title": "Tiêu đề"}}, "translations.vi.description is missing"),
        ({"vi": {"title": " ", "description": "Mô tả"}}, "translations.vi.title is missing"),
    ],
)
def test_a_malformed_translation_is_refused_with_its_file(value: object, problem: str) -> None:
    where = Location("detections/sigma/x/discovery_y/rule.yml")
    with pytest.raises(RuleError, match=re.escape(problem)) as caught:
        read_translations({"translations": value}, where)
    assert "discovery_y/rule.yml" in str(caught.value)
