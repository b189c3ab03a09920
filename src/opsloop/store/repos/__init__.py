"""One module per aggregate. Functions take an open SQLAlchemy connection (the caller's
transaction) and speak in rows or domain entities; no business rules live here."""
