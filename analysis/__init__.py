"""dealer-voice: the customer-voice workbench of a car importer's dealer network.

For a notebook, one import reaches every part; each module loads when first used, so
``import analysis`` itself costs nothing::

    import analysis as dv

    settings = dv.Settings.from_params()             # level, q, draws, language: decided once
    answers = dv.store.load("responses", months=["2026-10"])
    dv.nps.summarize(answers, by=("region",), settings=settings)
    dv.drivers.relative_importance(answers, settings=settings)

The layers, bottom up (``docs/architecture.md``): the foundation (``config``, ``settings``,
``errors``, ``table_specs``, ``schemas``, ``privacy``, ``regions``), ingest and the store
(``ingest``, ``store``, ``synthetic``, ``demo_exports``), the statistics (``counting``,
``nps``, ``drivers``, ``growth``, ``rootcause``, ``stars``, ``alarms``, ``css``, ``cases``,
``incidents``, ``repairs``, ``actions``, ``retention``, ``funnel``, ``coverage``,
``calibration``, ``validation``, ``engine``, ``estimators``, ``keywords``) and the report
(``report``).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# the package's modules, in the layers' order (docs/architecture.md)
MODULES = (
    "config", "settings", "errors", "table_specs", "schemas", "privacy", "regions",
    "ingest", "store", "synthetic", "demo_exports",
    "counting", "nps", "drivers", "growth", "rootcause", "stars", "alarms", "css", "cases",
    "incidents", "repairs", "actions", "retention", "funnel", "coverage", "calibration",
    "validation", "engine", "estimators", "keywords",
    "report",
)
# the names a notebook reaches for first, and the module that holds each
NAMES = {
    "Settings": "settings",
    "load_params": "config",
    "DataError": "errors",
    "mask_pii": "privacy",
    "load_report_data": "report.data",
}

__all__ = ["MODULES", "NAMES", "__version__", *MODULES, *NAMES]

def __getattr__(name: str):
    """A module of :data:`MODULES` or a name of :data:`NAMES`, imported on first use."""
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in NAMES:
        return getattr(importlib.import_module(f"{__name__}.{NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
