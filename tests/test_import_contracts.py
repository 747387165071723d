"""The import contracts (pyproject.toml, [tool.importlinter]; docs/architecture.md) hold, and
would catch a backwards import. Plus what import-linter cannot say: every module sits on a floor,
the pure modules import only the standard library and pydantic, blocks/ uses only slack_sdk's
models, bot/__init__.py stays empty."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LINTER: dict[str, Any] = CONFIG["tool"]["importlinter"]
PACKAGES: tuple[str, ...] = tuple(LINTER["root_packages"])
# bot.domain and bot.errors may import only the standard library and pydantic.
PURE = ("bot.domain", "bot.errors")
PURE_ALLOWED = frozenset(sys.stdlib_module_names) | {"__future__", "pydantic"}


def lint_imports(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the packages in `cwd` (the current directory comes first on its path),
    every contract or only those with the given ids."""
    script = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert script is not None, "import-linter is a dev dependency: uv sync"
    only = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run([script, "--no-cache", "--no-logo", *only], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "planted", "contract"), [
    ("store/audit.py", "import bot.server", "floors"),  # a backwards import
    ("blocks/text.py", "from store import models", "floors"),  # a sideways one
    ("bot/services/lookup.py", "from bot.emulator import catalog", "emulator"),
    ("bot/cli.py", "import handlers.commands", "cli"),
    ("store/customers.py", "import store.cards", "acyclic"),
    ("handlers/home.py", "from store import grants", "handlers-through-services"),
    ("bot/domain/fit.py", "import sqlalchemy", "domain-pure"),
])
def test_a_planted_import_breaks_its_contract(tmp_path: Path, module: str, planted: str,
                                              contract: str) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(f"{target.read_text(encoding='utf-8')}\n{planted}  # planted\n",
                      encoding="utf-8")

    result = lint_imports(tmp_path, contract)  # the copy: the tree itself keeps every contract

    assert result.returncode != 0, result.stdout
    assert "1 broken" in result.stdout, result.stdout


def layer_modules() -> set[str]:
    (floors,) = [c for c in LINTER["contracts"] if c["id"] == "floors"]
    found: set[str] = set()
    for layer in floors["layers"]:
        for part in layer.replace("|", ":").split(":"):
            found.add(part.strip().strip("()"))
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_every_module_sits_on_a_floor() -> None:
    """A new top-level bot module must be placed in the layers (import-linter ignores it)."""
    floors = layer_modules()
    unplaced = [name for name in map(module_name, modules())
                if name != "bot" and not any(name == f or name.startswith(f + ".")
                                             for f in floors)]
    assert unplaced == []


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Absolute names of every import of a module (relative ones resolved), any depth."""
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            if node.level:
                base = base[: len(base) - (node.level - 1)]
                yield node.lineno, ".".join([*base, node.module] if node.module else base)
            else:
                yield node.lineno, node.module or ""


def test_pure_modules_import_only_the_standard_library_and_pydantic() -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {name}"
             for path in modules() if module_name(path).startswith(PURE)
             for line, name in imported(path)
             if name.split(".")[0] not in PURE_ALLOWED
             and not any(name == p or name.startswith(p + ".") for p in PURE)]
    assert found == []


def test_blocks_use_only_the_models_of_slack_sdk() -> None:
    found = [f"{path.relative_to(ROOT)}:{line}: {name}"
             for path in modules() if module_name(path).startswith("blocks")
             for line, name in imported(path)
             if name.split(".")[0] == "slack_sdk" and not name.startswith("slack_sdk.models")]
    assert found == []


def test_bot_init_stays_empty() -> None:
    tree = ast.parse((ROOT / "bot/__init__.py").read_text(encoding="utf-8"))
    assert not [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]


def test_no_module_named_platform() -> None:
    assert not [p for p in modules() if p.stem == "platform"]
