"""Pipelines: Python steps composed into a pipeline, run with caching, retries and timings.

Kept free of imports on purpose: ``context`` is read by the SDK's client on every request,
which must not pull in the store. The service is ``opsloop.services.pipelines.service``.
"""
