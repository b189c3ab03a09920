"""Persistence only: the metadata database (SQLAlchemy) and the artifact store (fsspec)."""
