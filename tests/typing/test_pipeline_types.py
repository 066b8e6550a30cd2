"""utils/gen_pipeline_types.py: the pipelines' typed surface is generated from the command
classes, covers every command method, and ``--check`` catches a stale module."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
from pathlib import Path

from store._async.commands import AsyncCommands
from store._async.commands_pipeline import AsyncPipelineCommands
from store._async.pipeline import AsyncPipeline
from store._sync.commands import SyncCommands
from store._sync.commands_pipeline import SyncPipelineCommands

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "utils" / "gen_pipeline_types.py"


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_module_is_up_to_date() -> None:
    result = _check(ROOT)
    assert result.returncode == 0, result.stderr


def test_every_command_method_is_declared() -> None:
    own = set(vars(AsyncPipeline))
    for commands, declared in (
        (AsyncCommands, AsyncPipelineCommands),
        (SyncCommands, SyncPipelineCommands),
    ):
        expected = {
            name
            for name, member in inspect.getmembers(commands, inspect.isfunction)
            if not name.startswith("_")
            and name != "execute"
            and name not in own
            and not inspect.isasyncgenfunction(member)
            and not inspect.isgeneratorfunction(member)
        }
        found = {name for name in vars(declared) if not name.startswith("_")}
        assert expected == found, expected ^ found
        assert "get" in found and "scan_iter" not in found and "bitfield" in found


def test_check_fails_on_a_stale_module(tmp_path: Path) -> None:
    package = tmp_path / "src" / "store" / "_async"
    shutil.copytree(ROOT / "src" / "store" / "_async", package)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _check(tmp_path).returncode == 0
    commands = package / "commands.py"
    text = commands.read_text()
    anchor = "    # ---------------------------------------------------------------- pub/sub\n"
    assert anchor in text
    commands.write_text(
        text.replace(
            anchor,
            "    async def brand_new(self, name: KeyT) -> int:\n"
            '        return await self.execute("BRAND", name)\n\n' + anchor,
        )
    )
    result = _check(tmp_path)
    assert result.returncode == 1
    assert "stale" in result.stderr
    subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(tmp_path)], check=True, capture_output=True
    )
    assert (
        "async def brand_new(self, name: KeyT) -> Self: ..."
        in (package / "commands_pipeline.py").read_text()
    )
    assert _check(tmp_path).returncode == 0
