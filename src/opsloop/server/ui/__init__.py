"""The web UI: pages rendered on the server from the same services the API uses, behind the
same tokens and roles, with every asset shipped in the package (it works offline)."""

from opsloop.server.ui.install import install

__all__ = ["install"]
