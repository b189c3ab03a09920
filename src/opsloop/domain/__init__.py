"""The domain layer: entities, names, errors and settings. No I/O lives here."""
