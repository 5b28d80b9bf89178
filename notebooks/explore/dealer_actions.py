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
# # One dealer's actions and customers
# Closing the loop for one dealer: its improvement actions (done on time? did they work,
# against comparable dealers that did not act?), its customers who come back and those who
# do not, what its detractors cost in workshop visits, and how the call centre reaches its
# customers. Every estimate has its interval; settings are in params/loop.yaml. The win-back
# list is personal data: this notebook shows counts only. Tables and charts are in the
# language of params unless `language` says otherwise.

# %% tags=["parameters"]
dealer_id: str = ""  # dealer id, e.g. D001; "" means the dealer with the most actions
return_months: int = 6  # horizon of the return rate in months (12 needs 13+ months of data)
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store
language: str = ""  # en or ru; "" means the first of params/report.yaml languages

# %%
import pandas as pd

from analysis import actions, drivers, funnel, retention, rootcause
from analysis.report import charts, explore, tables
from analysis.report import format as F

book = explore.book(language)
loop = explore.dealer_loop(dealer_id, data_dir=data_dir or None)
dealers, responses, plans = loop.dealers, loop.responses, loop.plans
repair_orders, contacts = loop.repair_orders, loop.contacts
dealer, region, name = loop.dealer, loop.region, loop.name
book.note(book.text("explore", "dealer_actions_note", dealer=f"{name} ({dealer})",
                    region=region, n=F.count((plans["dealer_id"] == dealer).sum()),
                    total=F.count(len(plans))))

# %% [markdown]
# ## Completion: the dealer, its region and the network

# %%
as_of = responses["responded_at"].max()
status = actions.action_status(plans, as_of=as_of)
scopes = {name: status.loc[status["dealer_id"] == dealer],
          book.text("labels", "region", region=region): status.loc[status["dealer_id"].isin(
              dealers.loc[dealers["region"] == region, "dealer_id"])],
          book.text("labels", "network"): status}
book.show(book.text("explore", "completion"), tables.completion_table(pd.concat(
    [actions.completion(part, by=(), as_of=as_of).assign(group=scope)
     for scope, part in scopes.items()]), language=book.language))

# %%
mine = status.loc[status["dealer_id"] == dealer]
book.show(book.text("explore", "status"),
          explore.action_status_table(mine, language=book.language), max_rows=None)

# %% [markdown]
# ## Did they work?
# The change of each action's target from the months before it opened to the months after it
# closed, minus the change at comparable dealers of the region without such an action. A
# driver's target is its mean rating; a root cause's is the share of answers naming it, so
# the answers' causes come first: the root-cause model fitted on the network's comments.

# %%
causes = None
if not plans["target"].isin(drivers.driver_names()).all():
    causes = rootcause.label_responses(responses, rootcause.make_model(random_state=0))
effects = actions.action_effects(plans, responses, dealers=dealers, causes=causes,
                                 action_ids=mine["action_id"])
review = mine.merge(effects.drop(columns=["dealer_id", "target", "opened_at", "closed_at"]),
                    on="action_id", how="left").assign(dealer_name=name)
book.show(book.text("explore", "effects"),
          tables.action_review_table(review, language=book.language), max_rows=None)

# %%
measured = effects.dropna(subset=["effect"])
if len(measured):
    book.chart(charts.action_effects(review, language=book.language))
else:
    book.note(book.text("explore", "no_measured"))

# %% [markdown]
# The dealer's monthly target of its first measured action (a driver's mean rating, a cause's
# share of answers), against the rest of its region.

# %%
if len(measured):
    book.chart(explore.action_target_chart(responses, measured.iloc[0], dealer=dealer,
                                           dealer_name=name, region=region, causes=causes,
                                           language=book.language))

# %% [markdown]
# ## Customers who come back, and those who do not

# %%
flow = retention.customer_flow(repair_orders)
own_flow = flow.loc[flow["dealer_id"] == dealer]
book.chart(charts.customer_flow(own_flow, language=book.language))
book.show(book.text("explore", "customers"),
          explore.monthly_flow_table(own_flow.tail(6), language=book.language))

# %%
rates = retention.return_rates(repair_orders, responses, months=return_months)
book.show(book.text("explore", "return_network", months=return_months),
          tables.return_rate_table(rates, language=book.language))

# %%
own_rates = retention.return_rates(repair_orders, responses.loc[responses["dealer_id"] == dealer],
                                   months=return_months)
book.show(book.text("explore", "return_dealer", months=return_months),
          tables.return_rate_table(own_rates, language=book.language))

# %% [markdown]
# What the dealer's detractors of the last 12 months cost in a year of workshop visits (the
# network's return-rate gap between promoters and detractors, params/loop.yaml `value:`).

# %%
last_year = responses.loc[(responses["responded_at"] > as_of - pd.DateOffset(months=12))
                          & (responses["touchpoint"] == "service")]
stake = retention.value_at_stake(last_year, rates)
book.show(book.text("explore", "value_at_stake"), tables.value_at_stake_table(
    stake.loc[stake["dealer_id"] == dealer], dealers=dealers, language=book.language))

# %%
calls = retention.win_back(repair_orders.loc[repair_orders["dealer_id"] == dealer],
                           responses.loc[responses["dealer_id"] == dealer], as_of=as_of)
book.note(book.text("explore", "win_back",
                    detractors=F.count((calls["reason"] == "detractor").sum()),
                    lapsed=F.count((calls["reason"] == "lapsed").sum())))

# %% [markdown]
# ## How the call centre reaches the dealer's customers

# %%
book.show(book.text("explore", "funnel"), tables.funnel_table(
    funnel.funnel_rates(contacts.loc[contacts["dealer_id"] == dealer], by=("channel",)),
    language=book.language))
