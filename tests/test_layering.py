"""STYLE.md §1: what each package may import, checked on every module's Import/ImportFrom nodes."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# STYLE.md §1, "Must not import" column: (package prefix -> forbidden module prefixes).
# The most specific prefix wins.
RULES: dict[str, tuple[str, ...]] = {
    "blocks": ("slack_bolt", "slack_sdk.web", "sqlalchemy", "httpx", "store", "handlers",
               "bot.services", "bot.atomic"),
    "store": ("slack_bolt", "slack_sdk", "httpx", "blocks", "handlers", "bot.services"),
    "bot.atomic": ("slack_bolt", "slack_sdk", "sqlalchemy", "store", "blocks"),
    "bot.services": ("slack_bolt", "handlers", "httpx"),
    "handlers": ("store", "sqlalchemy", "httpx", "bot.atomic"),
}
# bot/errors.py and bot/domain.py may import only the standard library and pydantic.
PURE = ("bot.errors", "bot.domain")
PURE_ALLOWED = frozenset(sys.stdlib_module_names) | {"__future__", "pydantic"}
PACKAGES = ("bot", "blocks", "store", "handlers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def imported(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from bot import services` imports bot.services
                yield node.lineno, f"{target}.{alias.name}"


def rule_for(module: str) -> tuple[str, tuple[str, ...]] | None:
    matches = [p for p in RULES if module == p or module.startswith(p + ".")]
    if not matches:
        return None
    best = max(matches, key=len)
    return best, RULES[best]


def hits(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations() -> list[str]:
    found: list[str] = []
    for path in modules():
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = list(imported(tree, module, path.name == "__init__.py"))
        if module in PURE:
            found += [f"{path.relative_to(ROOT)}:{lineno}: {module} imports {name}"
                      for lineno, name in names
                      if name.split(".")[0] not in PURE_ALLOWED
                      and not any(hits(name, p) for p in PURE)]
            continue
        rule = rule_for(module)
        if rule is None:
            continue
        for lineno, name in names:
            for forbidden in rule[1]:
                if hits(name, forbidden):
                    found.append(f"{path.relative_to(ROOT)}:{lineno}: {rule[0]} imports {name}")
    return found


def test_packages_respect_the_import_table() -> None:
    assert violations() == []


def test_bot_init_stays_empty() -> None:
    tree = ast.parse((ROOT / "bot/__init__.py").read_text(encoding="utf-8"))
    assert not [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]


def test_no_module_named_platform() -> None:
    assert not [p for p in modules() if p.stem == "platform"]


@pytest.mark.parametrize(("module", "source", "bad"), [
    ("blocks.x", "import httpx", "httpx"),
    ("blocks.x", "from store.models import Customer", "store.models"),
    ("handlers.x", "from sqlalchemy import select", "sqlalchemy"),
    ("handlers.x", "from bot.atomic.client import AtomicClient", "bot.atomic.client"),
    ("bot.services.x", "from slack_bolt import App", "slack_bolt"),
    ("bot.atomic.x", "from ..emulator import thing", None),  # relative, allowed
    ("store.x", "from bot import services", "bot.services"),
    ("store.x", "from bot.atomic.definitions import input_specs", None),  # not forbidden by §1
])
def test_the_checker_catches_forbidden_imports(module: str, source: str, bad: str | None) -> None:
    rule = rule_for(module)
    assert rule is not None
    names = [n for _, n in imported(ast.parse(source), module, False)]
    caught = [n for n in names for f in rule[1] if hits(n, f)]
    assert (caught[:1] == [bad]) if bad else caught == []


def test_pure_modules_are_checked_too() -> None:
    tree = ast.parse("from sqlalchemy import select")
    names = [n for _, n in imported(tree, "bot.domain", False)]
    assert [n for n in names if n.split(".")[0] not in PURE_ALLOWED] == names
