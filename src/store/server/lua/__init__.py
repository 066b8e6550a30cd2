"""PulsarDS's Lua script engine (``engine.py``, with its Lua side in ``bootstrap.lua`` and
the cjson and cmsgpack libraries in ``libs.lua``)."""

from .engine import (
    Function,
    FunctionError,
    Library,
    Script,
    ScriptEngine,
    ScriptError,
    script_engine,
)

__all__ = [
    "Function",
    "FunctionError",
    "Library",
    "Script",
    "ScriptEngine",
    "ScriptError",
    "script_engine",
]
