"""The rules' reasons in each language: every code has its sentence in both catalogues, and renders whole."""

from __future__ import annotations

import re

import pytest

from refund_core.policy.models import RuleId
from refund_core.policy.reasons import LANGUAGES, catalogue, english_prevails, reason_text

_PLACEHOLDER = re.compile(r"\{(\w+)(?:\|(\w+))?\}")
# What a Chinese reason may hold in Latin letters: the parameters' own values and the brands it names.
_ALLOWED_LATIN = {"GB", "Apple", "iTunes", "Store", "reportaproblem", "apple", "com", "T"}


def sample_params(code: str, language: str) -> dict[str, str | int | list[str]]:
    """A value for every placeholder of the code's sentence and its clause, of the kind each takes."""
    words = catalogue(language)
    templates = [words["reasons"][code], words["clauses"][code.partition(".")[0]]]
    params: dict[str, str | int | list[str]] = {}
    while templates:
        for name, table in _PLACEHOLDER.findall(templates.pop()):
            if table == "date":
                params[name] = "2026-11-02"
            elif table:
                codes = [key for key in catalogue("en")["tables"][table] if key != "*"] or ["apple_itunes"]
                params[name] = codes if name in ("problems", "violations") else codes[0]
                templates.extend(words["tables"][table].values())
            else:
                params[name] = 7
    return params


def test_both_catalogues_have_every_code_clause_and_table() -> None:
    english, chinese = catalogue("en"), catalogue("zh-HK")
    assert set(english["reasons"]) == set(chinese["reasons"])
    assert set(english["clauses"]) == set(chinese["clauses"]) == {rule.value for rule in RuleId}
    for table, known in english["tables"].items():
        assert set(known) <= set(chinese["tables"][table]), table
    assert set(english["joins"]) == set(chinese["joins"])
    # Every rule says why it passed, and why it failed.
    for rule in RuleId:
        variants = {code.split(".")[1] for code in english["reasons"] if code.partition(".")[0] == rule.value}
        assert "pass" in variants and any(variant.startswith("fail") for variant in variants), rule


@pytest.mark.parametrize("code", sorted(catalogue("en")["reasons"]))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reason_renders_whole(code: str, language: str) -> None:
    params = sample_params(code, language) | sample_params(code, "en")
    text = reason_text(code.partition(".")[0], code, params, language, lambda iso: f"<{iso}>")
    assert "{" not in text and "}" not in text and "None" not in text, text
    assert "<2026-11-02>" in text or not any(name.endswith("On") for name in params), "dates as the caller writes them"
    if language == "zh-HK":
        latin = set(re.findall(r"[A-Za-z]+", text)) - {str(value) for value in params.values()}
        assert latin <= _ALLOWED_LATIN, (code, latin)
        assert text.endswith("」）")
    else:
        assert (text[0].isupper() or text[0].isdigit()) and "(Refund Policy: “" in text


def test_a_list_parameter_names_each_thing_once_joined_the_languages_way() -> None:
    params = {"violations": ["terms_of_use", "hong_kong_law", "something_new", "also_new"]}
    english = reason_text("LAWFUL_USE", "LAWFUL_USE.fail", params)
    assert english.startswith(
        "Our records show a breach of the Terms of Use and a breach of the laws of Hong Kong and a violation of our "
        "terms on your account."
    )
    chinese = reason_text("LAWFUL_USE", "LAWFUL_USE.fail", params, "zh-HK")
    assert chinese.startswith("我們的紀錄顯示您的帳戶有違反使用條款的紀錄及違反本公司條款的紀錄及違反香港法律的紀錄。")


def test_english_prevails_is_said_only_in_a_translation_and_only_under_reasons() -> None:
    assert english_prevails("en", ["a reason"]) == ""
    assert "(English prevails)" in english_prevails("zh-HK", ["a reason"])
    assert english_prevails("zh-HK", []) == ""
