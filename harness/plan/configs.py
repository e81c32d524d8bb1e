"""Where the configs that ship with convbench are: the checkout's ``configs/``, installed as ``harness.configs``.

The wheel carries ``configs/*.toml`` as the package data of ``harness.configs``
(see ``pyproject.toml``), so ``convbench choose`` finds ``calibrate.toml`` in
any install; a checkout put on ``PYTHONPATH`` without installing reads its own
``configs/``.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def config_dir() -> Path:
    """The folder of the shipped configs."""
    try:
        return Path(str(importlib.resources.files("harness.configs")))
    except ModuleNotFoundError:  # a checkout on PYTHONPATH, not installed
        return Path(__file__).resolve().parents[2] / "configs"


def config_path(name: str) -> Path:
    """The shipped config ``name`` (e.g. ``"calibrate.toml"``); it may not exist."""
    return config_dir() / name
