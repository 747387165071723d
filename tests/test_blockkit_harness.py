"""The Block Kit harness catches what Slack would reject
(docs/slack-rules.md#block-kit-validation)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from blocks.ids import ActionId
from tests.blockkit import (
    GOLDEN_DIR,
    assert_golden,
    validate_home,
    validate_message,
    validate_modal,
)


def section(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(action_id: str = ActionId.VIEW_CUSTOMER, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": "View"},
            "action_id": action_id, **extra}


def message(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"text": "fallback", "blocks": list(blocks)}


def text_input(block_id: str = "in") -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "label": {"type": "plain_text", "text": "Name"},
            "element": {"type": "plain_text_input", "action_id": ActionId.VIEW_CUSTOMER}}


def modal(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": "Customer"},
            "blocks": list(blocks), **extra}


def rejects(validate: Any, payload: Any, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        validate(payload)


def test_valid_payloads_pass() -> None:
    validate_message(message(section(block_id="a"), {"type": "divider"},
                             {"type": "actions", "elements": [button(value="v")]}))
    validate_modal(modal(text_input(), submit={"type": "plain_text", "text": "Send"}))
    validate_home({"type": "home", "blocks": [section()]})


def test_duplicate_block_id() -> None:
    rejects(validate_message, message(section(block_id="x"), section(block_id="x")),
            r"\$\.blocks\[1\]\.block_id: duplicate block_id 'x' \(also \$\.blocks\[0\]\)")


def test_same_action_id_in_two_blocks_is_fine_but_not_within_one() -> None:
    validate_message(message(section("a", accessory=button(), block_id="r0"),
                             section("b", accessory=button(), block_id="r1")))
    rejects(validate_message, message({"type": "actions", "elements": [button(), button()]}),
            r"\$\.blocks\[0\]\.elements\[1\]\.action_id: duplicate action_id")


def test_51_blocks_in_a_message() -> None:
    validate_message(message(*[section(str(i)) for i in range(50)]))
    rejects(validate_message, message(*[section(str(i)) for i in range(51)]),
            r"\$\.blocks: 51 blocks in a message, more than 50")


def test_101_blocks_in_a_view() -> None:
    validate_home({"type": "home", "blocks": [section() for _ in range(100)]})
    rejects(validate_home, {"type": "home", "blocks": [section() for _ in range(101)]},
            r"101 blocks in a home, more than 100")


def test_input_block_in_a_message() -> None:
    rejects(validate_message, message(section(), text_input()),
            r"\$\.blocks\[1\]: input blocks are not allowed in messages")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_object(text: str) -> None:
    rejects(validate_message, message(section(), section(text)),
            r"\$\.blocks\[1\]\.text: empty mrkdwn text object")
    rejects(validate_home, {"type": "home", "blocks": [{"type": "header", "text": {
        "type": "plain_text", "text": text}}]}, r"\$\.blocks\[0\]\.text: empty plain_text")


def test_missing_top_level_text() -> None:
    rejects(validate_message, {"blocks": [section()]}, r"\$\.text: a message needs")
    rejects(validate_message, {"text": " ", "blocks": [section()]}, r"\$\.text")
    rejects(validate_message, {"text": "x", "blocks": []}, r"\$\.blocks: a message needs")


def test_unknown_action_id() -> None:
    rejects(validate_message, message(section(accessory=button("customer.nope"))),
            r"\$\.blocks\[0\]\.accessory\.action_id: 'customer\.nope' is not a member of ActionId")


def test_unknown_callback_id() -> None:
    rejects(validate_modal, modal(section(), callback_id="who.knows"),
            r"\$\.callback_id: 'who\.knows' is not a member of CallbackId")


def test_modal_with_input_but_no_submit() -> None:
    rejects(validate_modal, modal(text_input()), r"\$\.submit: a modal with input blocks needs")
    validate_modal(modal(section()))  # no inputs: no submit needed


def test_over_long_text() -> None:
    rejects(validate_message, message(section("x" * 3001)),
            r"\$\.blocks\[0\]\.text: text object has 3001 characters, more than 3000")
    validate_message(message(section("x" * 3000)))


def test_over_long_header_button_value_and_metadata() -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    rejects(validate_message, message(header), r"\$\.blocks\[0\]\.text\.text: header text has 151")
    long_label = button()
    long_label["text"]["text"] = "b" * 76
    rejects(validate_message, message(section(accessory=long_label)), r"button text has 76")
    rejects(validate_message, message(section(accessory=button(value="v" * 2001))),
            r"\$\.blocks\[0\]\.accessory\.value: button value has 2001")
    rejects(validate_modal, modal(section(), private_metadata="m" * 3001),
            r"\$\.private_metadata: 3001 characters")


def test_schema_violations_name_the_path() -> None:
    bad = section()
    bad["colour"] = "red"  # unknown key
    rejects(validate_message, message(section(), bad),
            r"\$\.blocks\[1\]: Additional properties are not allowed \('colour' was unexpected\)")
    rejects(validate_message, message({"type": "sparkle"}),
            r"\$\.blocks\[0\]: no definition accepts type 'sparkle'")
    rejects(validate_message, message({"type": "context", "elements": []}),
            r"\$\.blocks\[0\]\.elements: \[\] should be non-empty")
    rejects(validate_modal, modal(section(), {"type": "divider", "block_id": ""}),
            r"\$\.blocks\[1\]\.block_id: '' should be non-empty")
    rejects(validate_home, {"type": "home", "blocks": [section()], "submit": {}},
            r"\$: Additional properties are not allowed \('submit' was unexpected\)")
    rejects(validate_home, {"type": "home", "blocks": [section(), {"type": "image"}]},
            r"\$\.blocks\[1\]: 'alt_text' is a required property")
    rejects(validate_modal, modal(section(), title={"type": "plain_text", "text": "t" * 25}),
            r"\$\.title\.text: 'ttttttttttttttttttttttttt' is too long")


def test_bad_button_url_fails_the_format_check() -> None:
    rejects(validate_message, message(section(accessory=button(url="not a url"))),
            r"\$\.blocks\[0\]\.accessory\.url: 'not a url' is not a 'uri'")
    validate_message(message(section(accessory=button(url="https://example.com/a?b=c"))))


def test_number_input_bounds_focus_and_initial_options() -> None:
    number = text_input()
    number["element"] = {"type": "number_input", "action_id": ActionId.VIEW_CUSTOMER,
                         "is_decimal_allowed": False, "min_value": "10", "max_value": "5"}
    submit = {"type": "plain_text", "text": "Send"}
    rejects(validate_modal, modal(number, submit=submit), r"min_value 10\.0 > max_value 5\.0")
    in_range = copy.deepcopy(number)
    in_range["element"].update(min_value="1", max_value="5", initial_value="7")
    rejects(validate_modal, modal(in_range, submit=submit), r"initial value 7\.0 is out of range")

    focused = [text_input(f"in{i}") for i in range(2)]
    for block in focused:
        block["element"]["focus_on_load"] = True
    rejects(validate_modal, modal(*focused, submit=submit), r"focus_on_load set on 2 elements")

    option = {"text": {"type": "plain_text", "text": "A"}, "value": "a"}
    other = {"text": {"type": "plain_text", "text": "B"}, "value": "b"}
    select = {"type": "section", "text": {"type": "mrkdwn", "text": "pick"},
              "accessory": {"type": "static_select", "action_id": ActionId.VIEW_CUSTOMER,
                            "options": [option], "initial_option": other}}
    rejects(validate_message, message(select), r"initial option .* is not among")
    select["accessory"]["initial_option"] = option
    validate_message(message(select))


def test_golden_missing_and_mismatch(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--update-golden"):
        pytest.skip("golden files are being rewritten")
    with pytest.raises(AssertionError, match="no harness__missing.json"):
        assert_golden("harness__missing", {"a": 1}, request)
    path = GOLDEN_DIR / "harness__sample.json"
    assert path.read_text(encoding="utf-8") == '{\n  "a": 1,\n  "b": "é"\n}\n'
    assert_golden("harness__sample", {"b": "é", "a": 1}, request)  # key order does not matter
    with pytest.raises(AssertionError, match=r'(?s)differs.*-  "b": "é".*\+  "b": "e"'):
        assert_golden("harness__sample", {"b": "e", "a": 1}, request)
