"""One reading of an Atomic card definition, shared by the feed, the previews, the stored inputs and
the emulator (docs/atomic.md, "Card JSON").

A definition is walked with an explicit stack (any depth, no recursion): the default view, then
each subview, every node's `children` (or `nodes`) in order. A node's properties are its flat keys
with its `attributes` merged over them, so the SDK shape (`{"type", "attributes", "children"}`)
and the flat contract shape read the same. SDK and contract type names map to one input kind.

Pure: standard library and bot.domain only, so blocks/ may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain import InputKind, InputOption

# Input node types -> kind. SDK names: Web SDK renderer table (docs/atomic.md, "Card JSON");
# contract names: the flat shape the emulator writes (assumed).
CONTRACT_INPUT_KINDS: dict[str, InputKind] = {
    "textInput": InputKind.TEXT,
    "numberInput": InputKind.NUMBER,
    "datePicker": InputKind.DATE,
    "dropdown": InputKind.DROPDOWN,
    "checkboxGroup": InputKind.CHECKBOX_GROUP,
    "switch": InputKind.SWITCH,
    "stepper": InputKind.STEPPER,
    "radioGroup": InputKind.RADIO,
    "fileUpload": InputKind.FILE,
}
INPUT_KINDS: dict[str, InputKind] = {
    **CONTRACT_INPUT_KINDS,
    "checkbox": InputKind.CHECKBOX_GROUP,
    "upload": InputKind.FILE,
}
# SDK type names shown under their contract name (the display vocabulary of blocks/ and render/).
DISPLAY_TYPES: dict[str, str] = {
    "checkbox": "checkboxGroup", "upload": "fileUpload", "cardDescription": "category",
    "listItem": "text",
}
CONTAINER_TYPES = frozenset({"form", "actionButtonGroup", "list"})
OPTION_TYPES = frozenset({"checkboxItem"})
BUTTON_TYPES = frozenset({"submitButton", "linkButton", "snoozeButton", "dismissButton",
                          "voteUpButton", "voteDownButton", "button"})
KNOWN_TYPES = frozenset({*INPUT_KINDS, *DISPLAY_TYPES, *CONTAINER_TYPES, *OPTION_TYPES,
                         *BUTTON_TYPES, "category", "headline", "text", "image", "video"})
MAX_NODES = 20_000  # a bound on the work one definition can cause
_STRUCTURE = frozenset({"type", "attributes", "children", "nodes"})
_SDK_NODE_KEYS = frozenset({"key", "validations"})  # beside `attributes`: node id, validations


@dataclass(frozen=True, slots=True)
class Element:
    """One node of a definition, read in either shape."""

    type: str  # as written ("" when missing)
    props: dict[str, Any]  # flat keys, then `attributes` over them (never the node's `type`)
    children: tuple[dict[str, Any], ...]
    raw: dict[str, Any]
    view: str  # "" for the default view, else the subview's id
    depth: int  # 0 at the top of a view
    parent: str  # the parent node's type ("" at the top of a view)

    @property
    def kind(self) -> InputKind | None:
        return INPUT_KINDS.get(self.type)

    @property
    def name(self) -> str:
        name = self.props.get("name")
        return name if isinstance(name, str) else ""

    @property
    def label(self) -> str:
        """`label`; in the SDK shape an input without one (text and number inputs have none)
        is titled by its `placeholder`, the only words the customer saw (docs/atomic.md)."""
        label = _string(self.props.get("label"))
        if not label and self.sdk_shaped and self.kind is not None:
            return _string(self.props.get("placeholder")).strip()
        return label

    @property
    def is_container(self) -> bool:
        """Holds other elements and shows nothing itself: `form`, `actionButtonGroup`, `list`, or
        a type the app does not know that has children."""
        return self.type in CONTAINER_TYPES or (self.type not in KNOWN_TYPES
                                                and bool(self.children))

    def options(self) -> list[InputOption]:
        """`items`, else `values` (a list), else the option children (`checkboxItem`)."""
        raw = self.props.get("items") if "items" in self.props else self.props.get("values")
        if isinstance(raw, list) and raw:
            return _options(item for item in raw if isinstance(item, Mapping))
        return _options(node_props(child) for child in self.children)

    @property
    def sdk_shaped(self) -> bool:
        """Properties under `attributes` (the SDK shape) rather than flat."""
        return isinstance(self.raw.get("attributes"), Mapping)

    def display(self) -> dict[str, Any]:
        """The node in the flat contract vocabulary the feed and the previews draw; a flat
        contract node comes back key for key, in its own order."""
        out: dict[str, Any] = {}
        for key in self.raw:  # keep the raw node's key order (minimum-version checks walk it)
            if key == "type" or key in self.props:
                out[key] = self.props.get(key)
        out.update(self.props)
        out["type"] = DISPLAY_TYPES.get(self.type, self.type)
        if self.type == "listItem":
            out["text"] = f"• {_string(out.get('text'))}"
        if self.sdk_shaped:
            self._sdk_display(out)
        if self.kind in (InputKind.DROPDOWN, InputKind.RADIO, InputKind.CHECKBOX_GROUP) and not (
                "items" in out or isinstance(out.get("values"), list)):
            options = self.options()
            if options:
                out["items"] = [{"key": o.key, "label": o.label} for o in options]
        return out

    def _sdk_display(self, out: dict[str, Any]) -> None:
        """SDK attribute names in the display vocabulary (docs/atomic.md, "Card JSON")."""
        if self.kind is not None and not _string(out.get("label")) and self.label:
            out["label"] = self.label  # the placeholder became the title
            out.pop("placeholder", None)
        for flat, sdk in (("min", "minimumValue"), ("max", "maximumValue")):
            if flat not in out and sdk in out:
                out[flat] = out[sdk]
        if self.type != "image":
            return
        source = _string(out.get("thumbnailSrc")) or _string(out.get("src"))
        if source:  # the SDK's `url` is where a tap goes, not the picture
            if "url" in out:
                out["linkUrl"] = out["url"]
            out["url"] = source
        if "alt" not in out:
            alt = next((v for k in ("altText", "label", "description")
                        if (v := _string(out.get(k)))), "")
            if alt:
                out["alt"] = alt


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _options(items: Iterable[Mapping[str, Any]]) -> list[InputOption]:
    options: list[InputOption] = []
    for item in items:
        key = item.get("key", item.get("value"))
        label = item.get("label", item.get("title", key))
        if key is not None:
            options.append(InputOption(key=str(key), label=str(label or key)))
    return options


def node_props(node: Mapping[str, Any]) -> dict[str, Any]:
    """Flat keys, then `attributes` over them. Beside `attributes`, `key` is the node's id and is
    not a property; the node's `type` never is (`attributes.type` is e.g. an upload's file type)."""
    attributes = node.get("attributes")
    if not isinstance(attributes, Mapping):
        return {k: v for k, v in node.items() if isinstance(k, str) and k not in _STRUCTURE}
    props = {k: v for k, v in node.items() if isinstance(k, str)
             and k not in _STRUCTURE and k not in _SDK_NODE_KEYS}
    props.update((k, v) for k, v in attributes.items() if isinstance(k, str) and k != "type")
    return props


def as_definition(value: Any) -> Any:
    """A definition as a mapping for storage: a bare list of nodes becomes the default view,
    `null` an empty definition; anything else is left for the caller to judge."""
    if value is None:
        return {}
    if isinstance(value, list):
        return {"defaultView": {"nodes": value}}
    return value


def nesting_depth(value: Any, *, stop_at: int = 10_000) -> int:
    """How deeply dicts and lists nest in `value` (a scalar is 0), counted without recursion and
    at most `stop_at`. json.dumps and json.loads raise RecursionError near 1,000 levels, so
    whoever stores or decodes a definition can refuse one deeper than it can write."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest >= stop_at:
                return stop_at
            stack.extend((child, depth) for child in (
                item.values() if isinstance(item, dict) else item))
    return deepest


def _child_list(holder: Any) -> list[Any]:
    """The nodes under a view or a node: a list as is, else its `children`, else its `nodes`."""
    if isinstance(holder, list):
        return holder
    if isinstance(holder, Mapping):
        for key in ("children", "nodes"):
            found = holder.get(key)
            if isinstance(found, list):
                return found
    return []


def views(definition: Any, *, subviews: bool = True) -> list[tuple[str, list[Any]]]:
    """(view id, top nodes): the default view ("") first, then the subviews in order.

    A list at the top is the default view's nodes; a mapping without `defaultView` but with
    `nodes`/`children` is a bare default view. Subviews: a mapping by id, or a list of views
    (id from their `id`, else their position)."""
    if isinstance(definition, list):
        return [("", definition)]
    if not isinstance(definition, Mapping):
        return []
    default = definition.get("defaultView", definition)
    found = [("", _child_list(default))]
    raw = definition.get("subviews") if subviews else None
    if isinstance(raw, Mapping):
        found += [(str(key), _child_list(view)) for key, view in raw.items()
                  if isinstance(view, Mapping | list)]
    elif isinstance(raw, list):
        for index, view in enumerate(raw):
            if isinstance(view, Mapping | list):
                ident = view.get("id") if isinstance(view, Mapping) else None
                found.append((ident if isinstance(ident, str) else str(index), _child_list(view)))
    return found


def walk(definition: Any, *, subviews: bool = True, limit: int = MAX_NODES) -> Iterator[Element]:
    """Every node (pre-order, document order), at most `limit`; anything not a node is skipped.

    An explicit stack: a 5,000-deep chain of children costs no Python recursion."""
    seen: set[int] = set()  # a node object met twice (shared or cyclic) is read once
    count = 0
    for view, top in views(definition, subviews=subviews):
        stack: list[tuple[Any, int, str]] = [(node, 0, "") for node in reversed(top)]
        while stack:
            node, depth, parent = stack.pop()
            if not isinstance(node, dict) or id(node) in seen:
                continue
            seen.add(id(node))
            count += 1
            if count > limit:
                return
            kind = node.get("type")
            children = tuple(c for c in _child_list(node) if isinstance(c, dict))
            element = Element(type=kind if isinstance(kind, str) else "",
                              props=node_props(node), children=children, raw=node, view=view,
                              depth=depth, parent=parent)
            yield element
            stack.extend((child, depth + 1, element.type) for child in reversed(children))


def is_option_of_input(element: Element) -> bool:
    """An option node (`checkboxItem`) under an input: the input shows it, not the feed."""
    return element.type in OPTION_TYPES and element.parent in INPUT_KINDS


def display_nodes(definition: Any, *, subviews: bool = False,
                  limit: int = MAX_NODES) -> list[dict[str, Any]]:
    """The elements to show, in order, in the display vocabulary: containers give way to their
    children; an input's options are part of it. Unknown leaf types keep their type."""
    shown: list[dict[str, Any]] = []
    for element in walk(definition, subviews=subviews):
        if element.is_container or is_option_of_input(element):
            continue
        shown.append(element.display())
        if len(shown) >= limit:
            break
    return shown


def input_elements(definition: Any) -> list[Element]:
    """Input elements with a name, every view, in order; a name's first element wins."""
    found: list[Element] = []
    names: set[str] = set()
    for element in walk(definition):
        if element.kind is None or not element.name or element.name in names:
            continue
        names.add(element.name)
        found.append(element)
    return found
