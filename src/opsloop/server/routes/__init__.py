"""REST API v1 routes, one module per aggregate."""
