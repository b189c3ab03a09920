"""The reference workloads behind `opsloop demo`: the whole loop on real data, offline."""

# Each workload's name and where its class lives (imported only when it runs: each brings
# its own data and libraries).
WORKLOADS = {
    "moderation": "opsloop.demos.moderation:Moderation",
    "recsys": "opsloop.demos.recsys:Recsys",
    "forecast": "opsloop.demos.forecast:Forecast",
}
