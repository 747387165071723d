"""Block Kit validation for tests: the vendored JSON Schema plus the cross-block rules it lacks.

docs/slack-rules.md#block-kit-validation. Every builder output goes through `validate_message`,
`validate_modal` or `validate_home`; each raises AssertionError naming the offending JSON path.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from blocks import ids

TESTS_DIR = Path(__file__).parent
SCHEMA_PATH = TESTS_DIR / "schemas" / "block-kit" / "slack-block-kit.schema.json"
GOLDEN_DIR = TESTS_DIR / "blocks" / "golden"

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 3_000
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2_000
MAX_PRIVATE_METADATA = 3_000
MAX_MARKDOWN_TOTAL = 12_000
MAX_MESSAGE_TEXT = 40_000
MAX_ID = 255

BLOCK_KIT: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    """A light RFC 3986 check: an absolute URI with a scheme, and a host for http(s)."""
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    if not parts.scheme or any(c.isspace() for c in value):
        return False
    return bool(parts.netloc) if parts.scheme in {"http", "https"} else bool(parts.path)


@cache
def block_kit_validator(definition: str | None = None, *,
                        opaque_blocks: bool = False) -> Draft202012Validator:
    """A validator for the whole schema (an array of blocks) or one of its `$defs`.

    With `opaque_blocks`, `$defs/block` accepts any object: the view envelope is checked alone and
    each block is checked on its own by `_check_block_schemas` (same rules, far faster).
    """
    defs = BLOCK_KIT["$defs"]
    if opaque_blocks:
        defs = {**defs, "block": {"type": "object", "required": ["type"]}}
    schema = BLOCK_KIT if definition is None else {"$defs": defs, "$ref": f"#/$defs/{definition}"}
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def _block_definitions() -> dict[str, str]:
    """Block `type` → its `$defs` name, read from the discriminated union `$defs/block`."""
    names = [ref["$ref"].rsplit("/", 1)[-1] for ref in BLOCK_KIT["$defs"]["block"]["oneOf"]]
    return {BLOCK_KIT["$defs"][name]["properties"]["type"]["const"]: name for name in names}


BLOCK_DEFINITIONS = _block_definitions()


def _leaf(error: ValidationError) -> ValidationError:
    """Follow oneOf/anyOf failures into the branch whose `type` matched (the one meant)."""
    if not error.context:
        return error
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
    meant = [errs for errs in branches.values()
             if not any(e.validator == "const" and list(e.relative_path) == ["type"] for e in errs)]
    if not meant:
        return error  # no branch accepts this `type`: the parent error says so best
    candidates = [e for errs in meant for e in errs]
    deepest = max(candidates, key=lambda e: (len(e.absolute_path), -len(e.context or [])))
    return _leaf(deepest)


def _describe(error: ValidationError) -> str:
    """The most specific reason for a schema failure, with its JSON path."""
    leaf = _leaf(error)
    if leaf.context and isinstance(leaf.instance, dict):
        return f"{leaf.json_path}: no definition accepts type {leaf.instance.get('type')!r}"
    return f"{leaf.json_path}: {leaf.message}"


def _raise_schema_errors(errors: list[tuple[str, ValidationError]]) -> None:
    if errors:
        details = "\n  ".join(_describe(error).replace("$", root, 1) for root, error in errors[:10])
        raise AssertionError(f"Block Kit schema violation ({len(errors)}):\n  {details}")


def _schema_errors(instance: object, definition: str | None, root: str, *,
                   opaque_blocks: bool = False) -> list[tuple[str, ValidationError]]:
    validator = block_kit_validator(definition, opaque_blocks=opaque_blocks)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    return [(root, error) for error in errors]


def _check_block_schemas(blocks: list[Any], root: str) -> list[tuple[str, ValidationError]]:
    """Each block against its own definition (`$defs/block` dispatches on `type` the same way)."""
    errors: list[tuple[str, ValidationError]] = []
    for index, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        definition = BLOCK_DEFINITIONS.get(kind) if isinstance(kind, str) else None
        errors += _schema_errors(block, definition or "block", f"{root}[{index}]")
    return errors


# ---- cross-block rules --------------------------------------------------------------------------

def _walk(node: object, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every dict in the payload with its JSON path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def _enum_values(*enums: type[StrEnum]) -> tuple[set[str], tuple[str, ...]]:
    """Exact members, and members ending in "." that are prefixes for a family of ids."""
    values = {member.value for enum in enums for member in enum}
    return values, tuple(v for v in values if v.endswith("."))


def _known(value: str, enums: tuple[type[StrEnum], ...]) -> bool:
    exact, prefixes = _enum_values(*enums)
    return value in exact or any(value.startswith(p) and len(value) > len(p) for p in prefixes)


ACTION_ID_ENUMS: tuple[type[StrEnum], ...] = (ids.ActionId,)
CALLBACK_ID_ENUMS: tuple[type[StrEnum], ...] = (ids.CallbackId,)


def _fail(path: str, message: str) -> NoReturn:
    raise AssertionError(f"{path}: {message}")


def _check_text_objects(root: str, payload: object) -> None:
    for path, node in _walk(payload, root):
        if node.get("type") not in {"plain_text", "mrkdwn"} or "text" not in node:
            continue
        text = node["text"]
        if not isinstance(text, str) or not text.strip():
            _fail(path, f"empty {node['type']} text object (Slack rejects it): {text!r}")
        if len(text) > MAX_TEXT:
            _fail(path, f"text object has {len(text)} characters, more than {MAX_TEXT}")


def _option_key(option: dict[str, Any]) -> str:
    return json.dumps(option, sort_keys=True)


def _element_options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options", []))
    for group in element.get("option_groups", []):
        options.extend(group.get("options", []))
    return options


def _check_element(path: str, element: dict[str, Any]) -> None:
    kind = element.get("type")
    action_id = element.get("action_id")
    if action_id is not None and not _known(action_id, ACTION_ID_ENUMS):
        _fail(f"{path}.action_id", f"{action_id!r} is not a member of ActionId in blocks/ids.py")
    if kind == "button":
        text = element.get("text", {}).get("text", "")
        if len(text) > MAX_BUTTON_TEXT:
            _fail(f"{path}.text.text",
                  f"button text has {len(text)} characters (max {MAX_BUTTON_TEXT})")
        value = element.get("value")
        if value is not None and len(value) > MAX_BUTTON_VALUE:
            _fail(f"{path}.value",
                  f"button value has {len(value)} characters (max {MAX_BUTTON_VALUE})")
    if kind == "number_input":
        _check_number_input(path, element)
    initial = ([element["initial_option"]] if "initial_option" in element
               else list(element.get("initial_options", [])))
    if initial:
        allowed = {_option_key(option) for option in _element_options(element)}
        if kind in {"static_select", "multi_static_select", "radio_buttons", "checkboxes"}:
            for option in initial:
                if _option_key(option) not in allowed:
                    _fail(path, f"initial option {option!r} is not among the element's options")


def _check_number_input(path: str, element: dict[str, Any]) -> None:
    def number(key: str) -> float | None:
        raw = element.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str):
            _fail(f"{path}.{key}", f"number_input {key} must be a string, got {raw!r}")
        try:
            return float(raw)
        except ValueError:
            _fail(f"{path}.{key}", f"number_input {key} is not a number: {raw!r}")

    low, high, initial = number("min_value"), number("max_value"), number("initial_value")
    if low is not None and high is not None and low > high:
        _fail(path, f"number_input min_value {low} > max_value {high}")
    if initial is not None and ((low is not None and initial < low)
                                or (high is not None and initial > high)):
        _fail(f"{path}.initial_value", f"number_input initial value {initial} is out of range")


def _check_blocks(root: str, blocks: list[dict[str, Any]], *, limit: int, surface: str) -> None:
    if len(blocks) > limit:
        _fail(root, f"{len(blocks)} blocks in a {surface}, more than {limit}")
    seen_blocks: dict[str, int] = {}
    focus: list[str] = []
    markdown_total = 0
    for index, block in enumerate(blocks):
        path = f"{root}[{index}]"
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen_blocks:
                _fail(f"{path}.block_id", f"duplicate block_id {block_id!r} "
                      f"(also {root}[{seen_blocks[block_id]}])")
            seen_blocks[block_id] = index
        kind = block.get("type")
        if kind == "input" and surface == "message":
            _fail(path, "input blocks are not allowed in messages (only modals and Home)")
        if kind == "header":
            text = block.get("text", {}).get("text", "")
            if len(text) > MAX_HEADER:
                _fail(f"{path}.text.text",
                      f"header text has {len(text)} characters (max {MAX_HEADER})")
        if kind == "markdown":
            markdown_total += len(block.get("text", ""))
        seen_actions: set[str] = set()
        for element_path, node in _walk(block, path):
            if node is block or "type" not in node:
                continue
            if node.get("focus_on_load"):
                focus.append(element_path)
            action_id = node.get("action_id")
            if isinstance(action_id, str):
                if action_id in seen_actions:
                    _fail(f"{element_path}.action_id",
                          f"duplicate action_id {action_id!r} within block {block_id or index}")
                seen_actions.add(action_id)
                _check_element(element_path, node)
            elif node.get("type") in {"number_input", "static_select", "multi_static_select",
                                      "radio_buttons", "checkboxes", "button"}:
                _check_element(element_path, node)
    if len(focus) > 1:
        _fail(root, f"focus_on_load set on {len(focus)} elements: {', '.join(focus)}")
    if markdown_total > MAX_MARKDOWN_TOTAL:
        _fail(root, f"markdown blocks hold {markdown_total} characters (max {MAX_MARKDOWN_TOTAL})")


def _check_view(view: dict[str, Any], surface: str) -> None:
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        _fail("$.blocks", "a view needs a list of blocks")
    _check_text_objects("$", view)
    _check_blocks("$.blocks", blocks, limit=MAX_VIEW_BLOCKS, surface=surface)
    callback_id = view.get("callback_id")
    if callback_id is not None and not _known(callback_id, CALLBACK_ID_ENUMS):
        _fail("$.callback_id", f"{callback_id!r} is not a member of CallbackId in blocks/ids.py")
    metadata = view.get("private_metadata")
    if metadata is not None and len(metadata) > MAX_PRIVATE_METADATA:
        _fail("$.private_metadata", f"{len(metadata)} characters (max {MAX_PRIVATE_METADATA})")


# ---- public API ---------------------------------------------------------------------------------

def validate_message(payload: dict[str, Any]) -> None:
    """A message payload (`text` + `blocks`): schema, ≤ 50 blocks, no inputs, cross-block rules."""
    if not isinstance(payload, dict):
        _fail("$", f"a message payload is a dict, got {type(payload).__name__}")
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        _fail("$.text", "a message needs a non-empty top-level text beside its blocks")
    if len(text) > MAX_MESSAGE_TEXT:
        _fail("$.text", f"{len(text)} characters: Slack truncates at {MAX_MESSAGE_TEXT}")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        _fail("$.blocks", "a message needs a non-empty list of blocks")
    _check_text_objects("$.blocks", blocks)
    _check_blocks("$.blocks", blocks, limit=MAX_MESSAGE_BLOCKS, surface="message")
    _raise_schema_errors(_check_block_schemas(blocks, "$.blocks"))


def validate_modal(view: dict[str, Any]) -> None:
    """A modal view: `$defs/modal_view`, ≤ 100 blocks, submit with inputs, cross-block rules."""
    if view.get("type") != "modal":
        _fail("$.type", f"expected 'modal', got {view.get('type')!r}")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        _fail("$.blocks", "a view needs a list of blocks")
    has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and "submit" not in view:
        _fail("$.submit", "a modal with input blocks needs a submit button")
    _check_view(view, "modal")
    _raise_schema_errors(_schema_errors(view, "modal_view", "$", opaque_blocks=True)
                         + _check_block_schemas(blocks, "$.blocks"))


def validate_home(view: dict[str, Any]) -> None:
    """A Home tab view: `$defs/home_view`, ≤ 100 blocks, cross-block rules."""
    if view.get("type") != "home":
        _fail("$.type", f"expected 'home', got {view.get('type')!r}")
    _check_view(view, "home")
    _raise_schema_errors(_schema_errors(view, "home_view", "$", opaque_blocks=True)
                         + _check_block_schemas(view["blocks"], "$.blocks"))


def assert_golden(name: str, payload: object, request: pytest.FixtureRequest) -> None:
    """Compare `payload` with tests/blocks/golden/<name>.json (`--update-golden` rewrites it)."""
    expected_path = GOLDEN_DIR / f"{name}.json"
    actual = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if request.config.getoption("--update-golden"):
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        expected_path.write_text(actual, encoding="utf-8")
    if not expected_path.is_file():
        raise AssertionError(f"no {expected_path.name}: run pytest --update-golden, then review")
    expected = expected_path.read_text(encoding="utf-8")
    if expected != actual:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True),
                                            actual.splitlines(keepends=True),
                                            f"golden/{name}.json", "actual", n=2))
        raise AssertionError(f"{expected_path.name} differs (run pytest --update-golden and review "
                             f"the diff if the change is intended):\n{diff}")
