"""bot/domain/fit.py: any string made storable, within its column, with the change said."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.fit import clean_json, clean_text, fit_text, needs_cleaning


def storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def test_nul_and_lone_surrogates_are_replaced() -> None:
    assert clean_text("a\x00b\ud800c") == "a\ufffdb\ufffdc"
    value, changes = fit_text("x\x00y")
    assert value == "x\ufffdy"
    assert changes == ["unstorable characters (NUL or lone surrogates) replaced"]


def test_clipped_with_an_ellipsis_and_said() -> None:
    value, changes = fit_text("+64 " + "1" * 79, 64)
    assert len(value) == 64 and value.endswith("…")
    assert changes == ["clipped from 83 to 64 characters"]


def test_clean_text_is_left_alone() -> None:
    text = "Ngā mihi 👋"
    assert fit_text(text, 100) == (text, [])
    assert clean_json({"a": [text]}) == {"a": [text]}


def test_clean_json_reaches_keys_and_nested_strings() -> None:
    dirty = {"k\x00": ["v\ud83d", {"n": 1, "t": "\x00"}]}
    assert needs_cleaning(dirty)
    assert clean_json(dirty) == {"k\ufffd": ["v\ufffd", {"n": 1, "t": "\ufffd"}]}


@given(st.text(st.characters(exclude_categories=())), st.integers(min_value=1, max_value=300))
def test_any_text_fits(text: str, limit: int) -> None:
    value, changes = fit_text(text, limit)
    assert storable(value) and len(value) <= limit
    assert (changes == []) == (value == text)
