"""The reference workloads behind `opsloop demo`: the whole loop on real data, offline."""

WORKLOADS = ("moderation", "recsys", "forecast")
