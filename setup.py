"""Build hook: compile the matching engine's hot modules with mypyc.

Everything else about the project is declared in pyproject.toml. Set MATCHING_NO_MYPYC=1 to
install the engine as plain Python (it behaves identically, only slower).
"""

from __future__ import annotations

import os

from setuptools import setup

# The hot path only; commands, events and views stay plain Python msgspec structs.
HOT_MODULES = ["matching/levels.py", "matching/core.py", "matching/book.py"]


def ext_modules() -> list[object]:
    """Return the mypyc extensions, or none when a pure-Python install is asked for."""
    if os.environ.get("MATCHING_NO_MYPYC"):
        return []
    from mypyc.build import mypycify

    # One shared library inside the package (not at the top level), so that editable
    # installs, which map only the package folders, find it too.
    return list(mypycify(HOT_MODULES, opt_level="3", group_name="matching._native"))


setup(ext_modules=ext_modules())
