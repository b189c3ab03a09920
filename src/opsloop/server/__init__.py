"""The HTTP adapter: the REST API (and later the UI) over the service layer."""
