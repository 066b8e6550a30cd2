"""Who may import what, checked on the source (AST, nothing imported): the layering of
docs/ARCHITECTURE.md. Imports inside functions and ``if TYPE_CHECKING:`` blocks count too.

* ``_backend`` (the seam) never depends on PulsarDS (``store.server``);
* the shared sans-IO modules import no I/O or thread module.

That ``_async`` imports no such module either is checked by ``utils/gen_sync.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "store"

# the standard modules of real I/O and threads: the business of the seam alone
IO_MODULES = frozenset({"asyncio", "socket", "ssl", "threading", "select", "selectors"})
# sans-IO modules shared by both variants (a module may become a package: resp.py or resp/)
SHARED = (
    "url",
    "registry",
    "errors",
    "resp",
    "_protocol",
    "replies",
    "messages",
    "command_table",
    "_command_data",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of each import of ``path``, relative ones resolved.
    ``from m import a`` gives ``m`` and ``m.a``: ``a`` may be a submodule."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def rel(path: Path) -> str:
    return path.relative_to(SRC.parent).as_posix()


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_import_resolution_of_this_module() -> None:
    """The checks below are only as good as ``imports``: relative imports resolve."""
    found = {module for _, module in imports(PACKAGE / "_backend" / "streams.py")}
    assert "store.errors" in found and "asyncio" in found, found
    found = {module for _, module in imports(PACKAGE / "_async" / "pool.py")}
    assert "store._backend.synchronization" in found, found
    assert "store._async.connection.AsyncConnection" in found, found


BACKEND = python_files(PACKAGE / "_backend")


def test_the_seam_is_a_package() -> None:
    assert {p.name for p in BACKEND} >= {"__init__.py", "streams.py", "synchronization.py"}


@pytest.mark.parametrize("path", BACKEND, ids=[p.name for p in BACKEND])
def test_the_seam_never_imports_the_server(path: Path) -> None:
    """The seam sits below the server: PulsarDS and its launchers (server/embedded.py)
    may use the client's pieces, never the other way round."""
    wrong = [
        f"{rel(path)}:{line} imports {module}"
        for line, module in imports(path)
        if module == "store.server" or module.startswith("store.server.")
    ]
    assert not wrong, "the seam must not depend on store.server: " + "; ".join(wrong)


def shared_files(name: str) -> list[Path]:
    module = PACKAGE / f"{name}.py"
    if module.is_file():
        return [module]
    return python_files(PACKAGE / name) if (PACKAGE / name).is_dir() else []


@pytest.mark.parametrize("name", SHARED)
def test_shared_modules_do_no_io(name: str) -> None:
    files = shared_files(name)
    assert files, f"store.{name} is neither {name}.py nor {name}/: update SHARED in {__name__}"
    wrong = [
        f"{rel(path)}:{line} imports {module}"
        for path in files
        for line, module in imports(path)
        if module.partition(".")[0] in IO_MODULES
    ]
    assert not wrong, "a shared sans-IO module does I/O (use store._backend): " + "; ".join(wrong)
