# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # NPS explorer
# NPS of any slice: pick the grouping columns, the period and the scope. Every figure has its
# 95% interval and a mark on groups under the minimum size of params/nps.yaml; a change is
# starred by the report's rule (one Benjamini-Hochberg family over the changes shown here).
# Tables and charts are in the language of params unless `language` says otherwise.

# %% tags=["parameters"]
region: str = "all"  # a region name, or "all" for the network
by: str = "touchpoint"  # comma-separated columns: region, dealer_id, dealer_name, touchpoint
period: str = "Q"  # M month, Q quarter, W week; "" means no time split
months: int = 12  # months of history
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
language: str = ""  # en or ru; "" means the first of params/report.yaml languages

# %%
from analysis import nps
from analysis.report import charts, explore, tables
from analysis.report import format as F
from analysis.report.data import load_report_data

data = load_report_data(region=region, data_dir=data_dir or None, trend_months=months)
book = explore.book(language)
keys = tuple(k.strip() for k in by.split(",") if k.strip())
summary = nps.summarize(data.responses, by=keys, period=period or None,
                        invitations=data.invitations)
earlier = data.responses.loc[data.responses["month"] != data.month, "nps"]
versus = nps.compare(data.current["nps"], earlier)
rule = explore.star_rule(summary, versus.p_value, settings=data.settings)
table = tables.summary_table(summary, by=keys, language=book.language, rule=rule)
names = ", ".join(table.columns[:len(keys) + bool(period)]).lower()
book.show(book.text("explore", "nps_slice", groups=names), table, max_rows=None)

# %%
# every answer lands in exactly one group: the slice loses and invents nothing
assert summary["n"].sum() == len(data.responses), "groups do not add up to the answers"
book.note(book.text("explore", "groups_add_up", answers=F.count(len(data.responses)),
                    groups=F.count(len(summary))))

# %%
if period:
    one = len(keys) == 1
    book.chart(charts.nps_errorbars(
        summary if one else nps.summarize(data.responses, by=(), period=period),
        hue=keys[0] if one else None, title=book.text("explore", "nps_slice", groups=names),
        language=book.language, rule=rule))

# %%
book.note(explore.compare_note(versus, rule, language=book.language, settings=data.settings))
