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
#       jupytext_version: 1.19.6
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
# list is personal data: this notebook shows counts only.

# %% tags=["parameters"]
dealer_id: str = ""  # dealer id, e.g. D001; "" means the dealer with the most actions
return_months: int = 6  # horizon of the return rate in months (12 needs 13+ months of data)
data_dir: str = ""  # data directory; "" means $DEALER_VOICE_DATA or the demo store

# %%
import matplotlib.pyplot as plt
import pandas as pd

from analysis import actions, drivers, funnel, retention, rootcause, store

source = data_dir or None
dealers = store.load("dealers", data_dir=source)
responses = store.with_region(store.load("responses", data_dir=source), dealers)
plans = store.load("actions", data_dir=source).drop(columns="month")
repair_orders = store.load("repair_orders", data_dir=source)
contacts = store.load("contacts", data_dir=source)
dealer = dealer_id or plans["dealer_id"].value_counts().index[0]
region = dealers.set_index("dealer_id").loc[dealer, "region"]
print(f"{dealer} in {region}: {len(plans.loc[plans['dealer_id'] == dealer])} actions, "
      f"{len(plans)} in the network")

# %% [markdown]
# ## Completion: the dealer, its region and the network

# %%
as_of = responses["responded_at"].max()
status = actions.action_status(plans, as_of=as_of)
scopes = [("dealer", status.loc[status["dealer_id"] == dealer]),
          ("region", status.loc[status["dealer_id"].isin(
              dealers.loc[dealers["region"] == region, "dealer_id"])]),
          ("network", status)]
pd.concat([actions.completion(part, by=(), as_of=as_of).assign(scope=name)
           for name, part in scopes]).set_index("scope")

# %%
status.loc[status["dealer_id"] == dealer, ["action_id", "target", "description", "opened_at",
                                           "due_at", "closed_at", "state", "on_time"]]

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
                                 action_ids=plans.loc[plans["dealer_id"] == dealer, "action_id"])
effects[["action_id", "target", "n_before", "n_after", "before", "after", "change",
         "comparison_change", "effect", "effect_low", "effect_high", "effective"]]

# %%
measured = effects.dropna(subset=["effect"])
if len(measured):
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(measured)))
    ax.errorbar(measured["effect"], range(len(measured)),
                xerr=[measured["effect"] - measured["effect_low"],
                      measured["effect_high"] - measured["effect"]], fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(measured)),
                  labels=measured["action_id"] + " " + measured["target"])
    ax.set_xlabel("effect on the target: a driver's mean rating, a cause's share (95% interval)")
    plt.show()
else:
    print("no action of this dealer has enough answers before and after it")

# %% [markdown]
# The dealer's monthly target of its first measured action (a driver's mean rating, a cause's
# share of answers), against the rest of its region.

# %%
if len(measured):
    first = measured.iloc[0]
    monthly = (responses.assign(month=responses["responded_at"].dt.to_period("M").dt.start_time,
                                who=(responses["dealer_id"] == dealer).map(
                                    {True: dealer, False: f"rest of {region}"}),
                                target=actions.target_values(responses, first["target"],
                                                             causes=causes))
               .loc[lambda d: d["region"] == region]
               .pivot_table(index="month", columns="who", values="target"))
    ax = monthly.plot(marker="o", figsize=(8, 3.5), title=first["target"])
    for when in ("opened_at", "closed_at"):
        ax.axvline(first[when], color="grey", ls=":")
    plt.show()

# %% [markdown]
# ## Customers who come back, and those who do not

# %%
flow = retention.customer_flow(repair_orders)
mine = flow.loc[flow["dealer_id"] == dealer].set_index("month")
mine[["customers", "new", "returning", "lost"]].plot(marker="o", figsize=(8, 3.5))
plt.show()
mine.tail(6)

# %%
rates = retention.return_rates(repair_orders, responses, months=return_months)
rates

# %%
own_rates = retention.return_rates(repair_orders, responses.loc[responses["dealer_id"] == dealer],
                                   months=return_months)
own_rates

# %% [markdown]
# What the dealer's detractors of the last 12 months cost in a year of workshop visits (the
# network's return-rate gap between promoters and detractors, params/loop.yaml `value:`).

# %%
last_year = responses.loc[(responses["responded_at"] > as_of - pd.DateOffset(months=12))
                          & (responses["touchpoint"] == "service")]
stake = retention.value_at_stake(last_year, rates)
stake.loc[stake["dealer_id"] == dealer]

# %%
calls = retention.win_back(repair_orders.loc[repair_orders["dealer_id"] == dealer],
                           responses.loc[responses["dealer_id"] == dealer], as_of=as_of)
calls.groupby("reason").size().rename("customers to call")

# %% [markdown]
# ## How the call centre reaches the dealer's customers

# %%
funnel.funnel_rates(contacts.loc[contacts["dealer_id"] == dealer], by=("channel",))
