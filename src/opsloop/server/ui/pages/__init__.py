"""One module per page (or group of pages): it gathers what the page shows from the services
and renders its template."""
