"""Every rule of opsloop lives here, once. Adapters (API, CLI, SDK) call these services."""
