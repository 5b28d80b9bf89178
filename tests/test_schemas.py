"""Schemas are built from the params of a directory, on first use: nothing is read on import,
and a params_dir override reaches validation (schemas and ingest)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pandera.pandas as pdr
import pytest
import yaml

from analysis import schemas
from analysis.config import PARAMS_DIR
from analysis.ingest import read_export

NOW = pd.Timestamp("2026-11-15 12:00")
DEALERS = ["D001"]


@pytest.fixture
def params_copy(tmp_path):
    """A copy of params/ to change one file in."""
    target = tmp_path / "params"
    shutil.copytree(PARAMS_DIR, target)

    def change(name, edit):
        path = target / f"{name}.yaml"
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(content)
        path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
        return target

    return change


def answers(**overrides):
    row = {"response_id": "R1", "dealer_id": "D001", "touchpoint": "service",
           "responded_at": pd.Timestamp("2026-10-31 14:05"), "nps": 8,
           **{d: 9.0 for d in schemas.DRIVERS}, "open_to_dealer": True}
    row.update(overrides)
    return pd.DataFrame([row])


def test_importing_reads_no_params():
    code = ("import analysis.schemas, analysis.ingest, analysis.store, analysis.synthetic\n"
            "from analysis.config import _read_yaml\n"
            "assert _read_yaml.cache_info().misses == 0, _read_yaml.cache_info()\n")
    env = {**os.environ, "DEALER_VOICE_PARAMS": "/nonexistent/params",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_a_different_nps_scale_changes_validation(params_copy):
    five = params_copy("nps", lambda p: p.update(scale={"min": 1, "max": 5}))
    schemas.validate("responses", answers(nps=8))  # params/: 0-10
    with pytest.raises(pdr.errors.SchemaErrors, match="less_than_or_equal_to"):
        schemas.validate("responses", answers(nps=8), params_dir=five)
    schemas.validate("responses", answers(nps=4), params_dir=five)
    # the default models are untouched by the override (models are cached per directory)
    assert schemas.for_params(five) is schemas.for_params(str(five))
    assert schemas.for_params(five).models["responses"] is not schemas.MODELS["responses"]


def test_a_different_driver_list_changes_the_columns(params_copy):
    def add_speed(p):
        p["drivers"].append("speed")

    more = params_copy("drivers", add_speed)
    assert "speed" in schemas.required_columns("responses", params_dir=more)
    assert "speed" not in schemas.required_columns("responses")
    with pytest.raises(pdr.errors.SchemaErrors, match="speed"):
        schemas.validate("responses", answers(), params_dir=more)
    schemas.validate("responses", answers(speed=7.0), params_dir=more)
    assert "speed" in schemas.arrow_schema("responses", params_dir=more).names


def test_read_export_validates_with_its_params_dir(params_copy, tmp_path):
    five = params_copy("nps", lambda p: p.update(scale={"min": 0, "max": 5}))
    path = tmp_path / "answers.csv"
    header = ["response_id", "dealer_id", "touchpoint", "responded_at", "nps",
              *schemas.DRIVERS, "open_to_dealer"]
    rows = [["R1", "D001", "service", "31.10.2026 14:05", "8", *["9"] * 5, "yes"],
            ["R2", "D001", "service", "31.10.2026 14:06", "4", *["9"] * 5, "yes"]]
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    default = read_export(path, table="responses", dealers=DEALERS, now=NOW)
    assert default.accepted["response_id"].tolist() == ["R1", "R2"]
    narrow = read_export(path, table="responses", dealers=DEALERS, now=NOW, params_dir=five)
    assert narrow.accepted["response_id"].tolist() == ["R2"]
    assert narrow.quarantined["problem"].tolist() == ["nps: out of range 0-5 ('8')"]
