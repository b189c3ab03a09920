"""Errors become one JSON shape here, and only here:
``{"error": {"code": "not_found", "message": "...", "field": "model"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from opsloop.domain.errors import InvalidInput, NotFound, OpsloopError


def _field_of(problem: Any) -> str:
    if problem.get("type") == "json_invalid":  # its location is a character offset
        return "body"
    location = tuple(problem.get("loc", ()))
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def on_opsloop_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpsloopError)
    return JSONResponse(exc.to_json(), status_code=exc.status)


async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
    field = _field_of(first)
    error = InvalidInput(
        f"{field}: {first.get('msg', 'invalid')}",
        field=field,
        detail=[{"field": _field_of(p), "rule": p.get("msg")} for p in problems],
    )
    return JSONResponse(error.to_json(), status_code=error.status)


async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error: OpsloopError = NotFound(str(exc.detail))
        return JSONResponse(error.to_json(), status_code=404)
    body = {"error": {"code": "http_" + str(exc.status_code), "message": str(exc.detail)}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(OpsloopError, on_opsloop_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
