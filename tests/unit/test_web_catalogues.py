"""The web app's two message catalogues (UI.md "Languages"): the same keys in both, the same placeholders in
each message, every key the code names present, and no page text outside them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
CATALOGUES = {language: WEB / "app" / "i18n" / f"{language}.json" for language in ("en", "zh-HK")}
CODE = sorted((WEB / "app").rglob("*.js"))


def catalogue(language: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(CATALOGUES[language].read_text(encoding="utf-8"))
    return loaded


def test_both_languages_have_every_key() -> None:
    english, chinese = catalogue("en"), catalogue("zh-HK")
    assert sorted(set(english) - set(chinese)) == [], "missing in zh-HK.json"
    assert sorted(set(chinese) - set(english)) == [], "missing in en.json"


@pytest.mark.parametrize("key", sorted(catalogue("en")))
def test_a_message_has_the_same_placeholders_in_both_languages(key: str) -> None:
    placeholders = {language: set(re.findall(r"\{(\w+)\}", catalogue(language)[key])) for language in CATALOGUES}
    assert placeholders["en"] == placeholders["zh-HK"]
    assert catalogue("zh-HK")[key].strip(), "an empty message"


def test_every_key_the_code_names_is_in_the_catalogues() -> None:
    named = {key for path in CODE for key in re.findall(r"\bt\(\"([\w.]+)\"", path.read_text(encoding="utf-8"))}
    assert named, "the pattern no longer finds the code's keys"
    assert sorted(named - set(catalogue("en"))) == []


def test_no_page_text_is_written_in_the_code() -> None:
    """Text reaches the page only through t() and wordsFor(): no string literal of words as an element's
    child (h("p", {}, "Some words")) nor in index.html."""
    words_as_child = re.compile(r"h\(\"\w+\", \{[^}]*\}, \"[A-Za-z\u4e00-\u9fff][^\"]*\"")
    offenders = [f"{path.name}: {found}" for path in CODE for found in words_as_child.findall(path.read_text("utf-8"))]
    assert offenders == []
    page = (WEB / "index.html").read_text(encoding="utf-8")
    assert re.sub(r"<[^>]+>", "", page).strip() == ""


def test_the_chinese_pages_address_the_reader_as_nin_throughout() -> None:
    """您, the polite "you" every page uses; never the familiar 你 (it once slipped into the policy page)."""
    assert [key for key, text in catalogue("zh-HK").items() if "你" in text] == []
