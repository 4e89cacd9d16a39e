"""The mypyc-compiled engine against the same engine run as plain Python."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

import matching
from matching import Book, BookConfig, Event
from matching.snapshot import snapshot
from matching.types import CommodityId
from tests.unit.matching.builders import random_commands

HOT_MODULES = ("levels", "core", "book")
PACKAGE = Path(matching.__file__).parent
COMPILED = all(
    str(importlib.import_module(f"matching.{name}").__file__).endswith(".so")
    for name in HOT_MODULES
)
pytestmark = pytest.mark.skipif(
    not COMPILED, reason="the engine is installed as plain Python (MATCHING_NO_MYPYC)"
)

PURE_RUN = """
import sys
import msgspec
import matching.book
from matching import Book, BookConfig, Command
from matching.snapshot import snapshot

assert matching.book.__file__.endswith(".py"), matching.book.__file__
commands = msgspec.msgpack.decode(open(sys.argv[1], "rb").read(), type=list[Command])
book = Book(BookConfig(commodity=7))
out = []
book.apply_batch(commands, out)
open(sys.argv[2], "wb").write(msgspec.msgpack.encode(out))
open(sys.argv[3], "wb").write(snapshot(book))
"""


def test_compiled_modules_are_built_from_the_current_sources() -> None:
    for name in HOT_MODULES:
        compiled = Path(str(importlib.import_module(f"matching.{name}").__file__))
        source = PACKAGE / f"{name}.py"
        assert compiled.stat().st_mtime >= source.stat().st_mtime, (
            f"{compiled.name} is older than {source.name}: rebuild with `pip install -e .`"
        )


def test_compiled_and_pure_python_engines_give_identical_results(tmp_path: Path) -> None:
    commands = random_commands(seed=3, count=4000)
    pure = tmp_path / "matching"
    pure.mkdir()
    for source in PACKAGE.glob("*.py"):
        shutil.copy(source, pure / source.name)
    (tmp_path / "commands.bin").write_bytes(msgspec.msgpack.encode(commands))
    (tmp_path / "run.py").write_text(PURE_RUN)
    book = Book(BookConfig(commodity=CommodityId(7)))
    out: list[Event] = []

    book.apply_batch(commands, out)
    subprocess.run(
        [sys.executable, "run.py", "commands.bin", "events.bin", "snapshot.bin"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        check=True,
    )

    assert (tmp_path / "events.bin").read_bytes() == msgspec.msgpack.encode(out)
    assert (tmp_path / "snapshot.bin").read_bytes() == snapshot(book)
