"""The Python SDK: one HTTP client, in process (embedded) or to a server (remote)."""
