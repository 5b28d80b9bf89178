# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
region: str = "Central"  # region name as in the dealers table
month: str = ""  # report month YYYY-MM; "" means the latest complete month in the data
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or data/demo
trend_months: int = 12  # months of history in the dynamics charts
excel_path: str = ""  # where to write the Excel workbook; "" means no workbook

# %%
from analysis import nps, plots, reports

data = reports.load_report_data(region=region, month=month, data_dir=data_dir or None,
                                trend_months=trend_months)
book = reports.ReportBook()
book.heading(data.title)

# %%
with book.section("Headline NPS and its dynamics"):
    monthly = nps.summarize(data.responses, by=(), period="M")
    book.show("NPS by month", monthly)
    plots.nps_trend(monthly, title=f"NPS by month, {data.months[0]} - {data.month}")

# %%
with book.section("By touchpoint"):
    book.show("NPS by touchpoint", nps.summarize(data.current, by=("touchpoint",), period=None))

# %%
with book.section("Dealers"):
    dealers = nps.summarize(data.current, by=("dealer_id", "dealer_name"), period=None)
    book.show("Dealers in the report month", dealers.sort_values("nps", ascending=False))
    plots.nps_trend(nps.summarize(data.responses, by=("dealer_name",), period="M"),
                    hue="dealer_name", title="NPS by dealer")

# %%
book.save_excel(excel_path)
