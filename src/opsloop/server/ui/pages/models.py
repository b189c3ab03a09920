"""Models: every registered model, one model's versions, aliases (with every move) and
verdicts (with every rule), and one version's lineage from dataset to deployment."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opsloop.domain.names import ModelRef, check_name, is_version, parse_version
from opsloop.server.ui.pages._paging import last_page, page_number
from opsloop.server.ui.render import render
from opsloop.server.ui.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False)

MODELS_PER_PAGE = 200
VERSIONS_PER_PAGE = 100
EVALUATIONS_PER_PAGE = 20
MOVES_PER_PAGE = 50
SERVED_LIMIT = 50


@router.get("/ui/models", response_class=HTMLResponse)
def models(
    request: Request,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    project: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    chosen = check_name(project, "project") if project else None
    number = page_number(page)
    summaries, total = platform.registry.model_summaries(
        chosen, MODELS_PER_PAGE, (number - 1) * MODELS_PER_PAGE
    )
    return render(
        request,
        "models.html",
        viewer,
        started,
        summaries=summaries,
        projects=[p.name for p in platform.projects.list_projects()],
        project=chosen,
        pages=Pages(request, "page", number, MODELS_PER_PAGE, total),
    )


@router.get("/ui/models/{project}/{name}", response_class=HTMLResponse)
def model(
    request: Request,
    project: str,
    name: str,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    versions_page: str | None = None,
    evaluations_page: str | None = None,
    moves_page: str | None = None,
    alias: str | None = None,
    verdict: str | None = None,
) -> HTMLResponse:
    started = time.perf_counter()
    platform = request.app.state.platform
    check_name(project, "project")
    check_name(name, "model")
    alias = check_name(alias, "alias") if alias else None
    verdict = verdict or None
    pages = {
        key: page_number(value, key)
        for key, value in (
            ("versions_page", versions_page),
            ("evaluations_page", evaluations_page),
            ("moves_page", moves_page),
        )
    }
    summary = platform.registry.model_summary(project, name)
    versions = platform.registry.version_page(
        project, name, VERSIONS_PER_PAGE, (pages["versions_page"] - 1) * VERSIONS_PER_PAGE
    )
    verdicts = platform.evaluations.newest_verdicts(project, name, [v.version for v in versions])
    moves, moves_total = platform.registry.alias_moves(
        project,
        name,
        alias=alias,
        limit=MOVES_PER_PAGE,
        offset=(pages["moves_page"] - 1) * MOVES_PER_PAGE,
    )
    evaluations, evaluations_total = platform.evaluations.for_model(
        project,
        name,
        verdict=verdict,
        limit=EVALUATIONS_PER_PAGE,
        offset=(pages["evaluations_page"] - 1) * EVALUATIONS_PER_PAGE,
    )
    return render(
        request,
        "model.html",
        viewer,
        started,
        summary=summary,
        base=_model_path(project, name),
        versions=versions,
        verdicts=verdicts,
        newest_moves=platform.registry.newest_alias_moves(project, name),
        moves=moves,
        alias=alias,
        verdict=verdict,
        evaluations=evaluations,
        versions_pages=Pages(
            request,
            "versions_page",
            pages["versions_page"],
            VERSIONS_PER_PAGE,
            summary.versions,
            "#versions",
        ),
        moves_pages=Pages(
            request,
            "moves_page",
            pages["moves_page"],
            MOVES_PER_PAGE,
            moves_total,
            "#alias-history",
        ),
        evaluations_pages=Pages(
            request,
            "evaluations_page",
            pages["evaluations_page"],
            EVALUATIONS_PER_PAGE,
            evaluations_total,
            "#evaluations",
        ),
    )


@router.get("/ui/models/{project}/{name}/{version}", response_class=HTMLResponse)
def model_version(
    request: Request,
    project: str,
    name: str,
    version: str,
    viewer: Annotated[Viewer, Depends(viewer_of)],
    evaluations_page: str | None = None,
) -> Response:
    started = time.perf_counter()
    platform = request.app.state.platform
    check_name(project, "project")
    check_name(name, "model")
    if not is_version(version):  # an alias: the page of the version it points at
        found = platform.registry.resolve(
            ModelRef(project, name, alias=check_name(version, "alias"))
        )
        return RedirectResponse(f"{_model_path(project, name)}/{found.version}", status_code=303)
    number = parse_version(version)
    page = page_number(evaluations_page, "evaluations_page")
    lineage = platform.registry.lineage(project, name, number, SERVED_LIMIT)
    evaluations, evaluations_total = platform.evaluations.for_model(
        project,
        name,
        version=number,
        limit=EVALUATIONS_PER_PAGE,
        offset=(page - 1) * EVALUATIONS_PER_PAGE,
    )
    return render(
        request,
        "model_version.html",
        viewer,
        started,
        lineage=lineage,
        model_version=lineage.version,
        base=_model_path(project, name),
        evaluations=evaluations,
        evaluations_pages=Pages(
            request,
            "evaluations_page",
            page,
            EVALUATIONS_PER_PAGE,
            evaluations_total,
            "#evaluations",
        ),
    )


class Pages:
    """Where one list on a page stands (``number`` of ``count``) and the links to its
    neighbours, which keep every other query parameter of the page."""

    def __init__(
        self, request: Request, key: str, number: int, size: int, total: int, anchor: str = ""
    ) -> None:
        self.key = key
        self.anchor = anchor
        self.number = number
        self.total = total
        self.count = last_page(number, total, size, key)
        self.first = min(total, (number - 1) * size + 1)
        self.last = min(total, number * size)
        self._path = request.url.path
        self._query = [(k, v) for k, v in request.query_params.multi_items() if k != key]

    def link(self, number: int) -> str:
        query = self._query + ([(self.key, str(number))] if number > 1 else [])
        return self._path + (f"?{urlencode(query)}" if query else "") + self.anchor

    @property
    def previous(self) -> str | None:
        return self.link(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.link(self.number + 1) if self.number < self.count else None


def _model_path(project: str, name: str) -> str:
    return f"/ui/models/{quote(project)}/{quote(name)}"
