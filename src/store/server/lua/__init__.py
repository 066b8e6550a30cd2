"""PulsarDS's Lua script engine (``engine.py``, with its Lua side in ``bootstrap.lua``)."""

from .engine import Script, ScriptEngine, ScriptError, script_engine

__all__ = ["Script", "ScriptEngine", "ScriptError", "script_engine"]
