"""The one settings object (issue 27 item 2): decided from params once, frozen, checked."""

import pickle

import numpy as np
import pytest
import yaml

from analysis.config import PARAMS_DIR
from analysis.settings import Settings, settings_or


def test_settings_read_every_field_from_params(tmp_path):
    for name in ("nps", "flags", "report", "drivers"):
        (tmp_path / f"{name}.yaml").write_text((PARAMS_DIR / f"{name}.yaml").read_text())
    flags = yaml.safe_load((tmp_path / "flags.yaml").read_text())
    flags["q"], flags["scope"] = 0.05, "table"
    flags["equivalence"]["nps_points"] = 3
    (tmp_path / "flags.yaml").write_text(yaml.safe_dump(flags))
    s = Settings.from_params(tmp_path)
    assert (s.q, s.scope, s.margin("nps_points")) == (0.05, "table", 3.0)
    assert s.params_dir == tmp_path
    assert Settings.from_params(tmp_path, q=0.2).q == 0.2


def test_settings_are_frozen_hashable_and_picklable():
    s = Settings.from_params()
    with pytest.raises(AttributeError):
        s.level = 0.9
    assert pickle.loads(pickle.dumps(s)) == s and hash(s) == hash(s.with_())
    assert s.with_(language="ru") != s


@pytest.mark.parametrize("change", [{"level": 1.0}, {"q": 0}, {"scope": "page"},
                                    {"language": "de"}, {"n_boot": 0}])
def test_settings_refuse_what_no_report_can_mean(change):
    with pytest.raises(ValueError):
        Settings.from_params().with_(**change)


def test_unknown_settings_are_named():
    with pytest.raises(TypeError, match="levle"):
        Settings.from_params(levle=0.9)


def test_one_p_value_is_significant_below_one_minus_level():
    s = Settings.from_params(level=0.9)
    assert s.significant(0.099) and not s.significant(0.1)
    assert not s.significant(float("nan")) and not s.significant(None)


def test_an_array_of_p_values_is_judged_one_by_one():
    s = Settings.from_params(level=0.9)
    p = np.array([0.01, 0.05, 0.099, 0.1, np.nan])
    assert s.significant(p).tolist() == [s.significant(x) for x in p]
    assert s.significant(p).tolist() == [True, True, True, False, False]


def test_no_settings_means_the_params_decided_once():
    assert settings_or(None) == Settings.from_params()
    assert settings_or(None) is settings_or(None)  # not decided again in a loop
    s = Settings.from_params(q=0.05)
    assert settings_or(s) is s


def test_a_retired_key_set_to_another_value_is_named(tmp_path):
    """A team's params that still set a module's own level (or labels.yaml's language) to
    something else than the one setting would see no effect: the run stops naming the file,
    the key and where the value goes now; the same value passes."""
    from analysis.config import ParamsError

    def params(case: str, name: str, change: dict):
        directory = tmp_path / case  # params files are read once per path: one per case
        directory.mkdir()
        for stem in ("nps", "flags", "report", "drivers", "css", "labels"):
            (directory / f"{stem}.yaml").write_text((PARAMS_DIR / f"{stem}.yaml").read_text())
        content = yaml.safe_load((directory / f"{name}.yaml").read_text())
        (directory / f"{name}.yaml").write_text(yaml.safe_dump({**content, **change},
                                                               allow_unicode=True))
        return directory

    assert Settings.from_params(params("same", "css", {"level": 0.95})).level == 0.95
    with pytest.raises(ParamsError, match=r"css.yaml: level \(0.9\) is no longer read.*nps"):
        Settings.from_params(params("other", "css", {"level": 0.9}))
    with pytest.raises(ParamsError, match="labels.yaml: language .*report.yaml languages"):
        Settings.from_params(params("russian", "labels", {"language": "ru"}))


def test_the_report_command_checks_the_params_before_any_report(tmp_path, monkeypatch, capsys):
    """A retired key set to another value stops `python -m analysis report` at once, naming it,
    before a store is read or a notebook runs."""
    import shutil

    import analysis.config as config
    from analysis.__main__ import main

    shutil.copytree(PARAMS_DIR, tmp_path / "params")
    (tmp_path / "params" / "css.yaml").write_text(
        (PARAMS_DIR / "css.yaml").read_text() + "\nlevel: 0.9\n")
    monkeypatch.setattr(config, "PARAMS_DIR", tmp_path / "params")
    assert main(["report", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert "params/css.yaml: level (0.9) is no longer read" in capsys.readouterr().err
    assert not (tmp_path / "index.html").exists()
