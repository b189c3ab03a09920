"""The ``opsloop`` command: Typer + Rich over the SDK client. Heavy imports stay inside
commands so ``opsloop --help`` is quick."""
