"""The data-error family and the one column check (analysis.errors)."""

import pickle

import pandas as pd
import pytest

from analysis import cases, drivers, growth, incidents, ingest, nps, repairs, rootcause
from analysis.config import ParamsError
from analysis.errors import DataError, MissingColumnsError, require_columns


def test_every_module_error_about_data_is_a_data_error():
    for error in (ingest.IngestError, drivers.DriverDataError, growth.GrowthDataError,
                  cases.OperationsDataError, rootcause.RootCauseError, MissingColumnsError):
        assert issubclass(error, DataError) and issubclass(error, ValueError)
    assert incidents.OperationsDataError is repairs.OperationsDataError is cases.OperationsDataError
    # bad params are another branch: fix the YAML, not the data
    assert not issubclass(ParamsError, DataError)


def test_the_message_names_table_column_and_fix():
    err = DataError("responses hold NPS 12", table="responses", column="nps",
                    fix="correct the export")
    assert str(err) == "responses hold NPS 12; correct the export"
    assert (err.table, err.column, err.fix) == ("responses", "nps", "correct the export")
    assert str(DataError("no fix")) == "no fix"
    back = pickle.loads(pickle.dumps(err))  # crosses process boundaries (Dask workers)
    assert (str(back), back.table, back.column) == (str(err), "responses", "nps")


def test_require_columns_names_what_is_missing_and_what_is_there():
    frame = pd.DataFrame({"dealer_id": ["A"], "nps": [9]})
    require_columns(frame, ["nps", "dealer_id"], table="responses")  # nothing missing
    with pytest.raises(MissingColumnsError) as info:
        require_columns(frame, ["nps", "region", "month", "region"], table="responses",
                        fix="attach region with analysis.store.with_region")
    err = info.value
    assert isinstance(err, KeyError) and isinstance(err, ValueError)
    assert str(err) == ("responses lack column(s) ['region', 'month']; available: "
                        "['dealer_id', 'nps']; attach region with analysis.store.with_region")
    assert (err.table, err.column) == ("responses", ("region", "month"))


def test_require_columns_raises_the_modules_own_error_and_a_default_fix():
    with pytest.raises(cases.OperationsDataError, match=r"analysis\.store\.load\('cases'\)") \
            as info:
        require_columns(["case_id"], ["owner"], table="cases", error=cases.OperationsDataError)
    assert info.value.column == "owner"
    # a frame that is not a store table gets no store advice
    with pytest.raises(DataError) as info:
        require_columns(pd.DataFrame({"a": [1]}), ["b"], table="the data")
    assert info.value.fix is None


def test_statistics_functions_use_it():
    with pytest.raises(MissingColumnsError, match=r"responses lack column\(s\) \['region'\]"):
        nps.summarize(pd.DataFrame({"nps": [1]}), by=("region",), period=None)
    with pytest.raises(growth.GrowthDataError) as info:
        growth.rank_dealers_by_driver(pd.DataFrame({"dealer_id": ["A"], "staff": [5.0]}),
                                      drivers=["staff"])
    assert (info.value.table, info.value.column) == ("responses", "region")
