"""Paths and parameters. Importing this module does nothing but compute paths."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import yaml

__all__ = ["DATA_ROOT", "DEMO_DIR", "NOTEBOOKS_DIR", "PARAMS_DIR", "REPORTS_DIR", "ROOT",
           "ParamsError", "data_dir", "load_params", "params_or"]

ROOT = Path(os.environ.get("DEALER_VOICE_ROOT", Path(__file__).resolve().parents[1]))
PARAMS_DIR = Path(os.environ.get("DEALER_VOICE_PARAMS", ROOT / "params"))
DATA_ROOT = ROOT / "data"
DEMO_DIR = DATA_ROOT / "demo"
REPORTS_DIR = Path(os.environ.get("DEALER_VOICE_REPORTS", ROOT / "reports"))
NOTEBOOKS_DIR = ROOT / "notebooks"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The store the reports read: an explicit override, else $DEALER_VOICE_DATA, else
    data/processed when something was ingested there, else the demo's store."""
    if override:
        return Path(override)
    env = os.environ.get("DEALER_VOICE_DATA")
    if env:
        return Path(env)
    own = DATA_ROOT / "processed"
    return own if own.exists() else DEMO_DIR / "processed"


class ParamsError(ValueError):
    """A params file is missing or malformed; the message names the file and the key.

    Not an :class:`analysis.errors.DataError`: bad params are fixed in params/*.yaml, not in
    the data, so they are a branch of their own."""


@cache
def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise ParamsError(f"params file {path} does not exist")
    with path.open(encoding="utf-8") as fh:
        content = yaml.safe_load(fh) or {}
    if not isinstance(content, dict):
        raise ParamsError(f"params file {path} must hold a mapping at the top level")
    return content


def load_params(name: str, *, params_dir: str | os.PathLike | None = None) -> dict:
    """Load ``params/<name>.yaml`` as a dict (a fresh copy each call).

    Parameters
    ----------
    name
        File stem, e.g. ``"network"`` or ``"drivers"``.
    params_dir
        Directory to read from instead of ``params/`` (tests, alternative networks).
    """
    import copy

    directory = Path(params_dir) if params_dir else PARAMS_DIR
    return copy.deepcopy(_read_yaml((directory / f"{name}.yaml").resolve()))


def params_or(name: str, params: dict | None, *,
              params_dir: str | os.PathLike | None = None) -> dict:
    """``params`` when given, else :func:`load_params` of ``name``: what a ``params=None``
    argument of a statistics function means."""
    return params if params is not None else load_params(name, params_dir=params_dir)
