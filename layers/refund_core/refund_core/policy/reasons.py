"""Why a rule passed, failed or could not tell, in each language: a rule result carries a stable code and its
parameters, and `reasons/<language>.json` holds the sentence of every code, the clause it applies and the
words its codes-as-parameters stand for. The API's English `reason` is rendered from the English catalogue;
the web app (which is served these same files) and the emails render the customer's language.

A sentence is a template: `{name}` is a parameter as given; `{name|date}` an ISO date, written as the caller's
date formatter writes it; `{name|table}` the catalogue's words for a code (a list of codes: each one's words,
joined the table's way), else the table's "*", else the code with its underscores as spaces."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "zh-HK")
type Param = str | int | list[str]
type DateWords = Callable[[str], str]
_PLACEHOLDER = re.compile(r"\{(\w+)(?:\|(\w+))?\}")


def _as_written(iso: str) -> str:
    return iso


@cache
def catalogue(language: str) -> dict[str, Any]:
    text = resources.files("refund_core.policy").joinpath("reasons", f"{language}.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _fill(template: str, params: Mapping[str, Param], words: dict[str, Any], dates: DateWords) -> str:
    def value(match: re.Match[str]) -> str:
        name, table = match.group(1), match.group(2)
        given = params[name]
        if table is None:
            return str(given)
        if table == "date":
            return dates(str(given))
        known: dict[str, str] = words["tables"][table]

        def one(code: str) -> str:
            return _fill(known.get(code) or known.get("*") or code.replace("_", " "), params, words, dates)

        if isinstance(given, list):
            # Each distinct phrase once, in the order its words sort: two unknown codes are one "violation".
            return str(words["joins"][table]).join(sorted({one(code) for code in given}))
        return one(str(given))

    return _PLACEHOLDER.sub(value, template)


def reason_text(
    rule: str, code: str, params: Mapping[str, Param], language: str = "en", dates: DateWords = _as_written
) -> str:
    """The sentence of `code` with the clause of `rule` it applies, quoted, in `language`."""
    words = catalogue(language if language in LANGUAGES else "en")
    sentence = _fill(words["reasons"][code], params, words, dates)
    clause = _fill(words["clauses"][rule], params, words, dates)
    text = f"{sentence}{'' if language == 'zh-HK' else ' '}{str(words['clauseQuote']).format(clause=clause)}"
    return text[:1].upper() + text[1:]  # not str.capitalize(): it would lower-case a ticket id


def english_prevails(language: str, reasons: Sequence[object]) -> str:
    """Said once under reasons given in a translation; nothing in English or when there are none."""
    return str(catalogue(language if language in LANGUAGES else "en")["englishPrevails"]) if reasons else ""
