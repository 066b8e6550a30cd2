"""The spec's examples (SPEC-datastore-clients.txt) run as written, in both variants."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC_PLACES = [ROOT.parent / "shared" / "SPEC-datastore-clients.txt", ROOT / "docs" / "spec.txt"]


def spec_examples() -> list[tuple[str, str | None]]:
    """(source, expected repr or None) for each ``>>>`` example, continuation lines joined."""
    spec = next((p for p in SPEC_PLACES if p.exists()), None)
    assert spec is not None, f"the spec is missing: looked in {SPEC_PLACES}"
    lines = spec.read_text().splitlines()
    examples: list[tuple[str, str | None]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line.startswith(">>> "):
            i += 1
            continue
        source = line[4:]
        i += 1
        # the spec continues a call on indented lines without "..."
        while source.count("(") > source.count(")") and i < len(lines):
            source += " " + lines[i].strip()
            i += 1
        expected = None
        if i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
            expected = lines[i].strip()
            i += 1
        examples.append((source, expected))
    return examples


def test_the_spec_has_examples() -> None:
    examples = spec_examples()
    assert len(examples) >= 6
    assert any("namespace" in source for source, _ in examples)


@pytest.mark.parametrize("variant", ["store.aio", "store.sync"])
def test_spec_examples_run(variant: str) -> None:
    namespace: dict[str, object] = {}
    for source, expected in spec_examples():
        source = source.replace("from pulsar.apps.data import", f"from {variant} import")
        if expected is None:
            exec(source, namespace)
            continue
        value = eval(source, namespace)
        assert repr(value) == expected, f"{source} gave {value!r}, the spec says {expected}"
    module = importlib.import_module(variant)
    assert type(namespace["store"]).__module__.startswith(
        "store._async" if variant == "store.aio" else "store._sync"
    )
    assert module.create_store is namespace["create_store"]
