"""The Report page without a browser: the map, the figures, hours per month (people's first),
the lead times; the pickers change what it shows; bad input is a 4xx page naming it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opsloop.domain.entities import Actor
from opsloop.domain.settings import Settings
from opsloop.server.app import create_app
from opsloop.services.platform import Platform
from opsloop.store.repos import _time

from ._asgi import SyncASGITransport
from .test_report import FakeTime, T, tell

SINCE, UNTIL = "2025-06-15T15:06:40", "2025-06-25T15:06:40"  # T and T + 10 days
PERIOD = f"since={SINCE}&until={UNTIL}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test_report's story, and a second project with an endpoint of its own."""
    found = tmp_path_factory.mktemp("ui-report") / "home"
    patch = pytest.MonkeyPatch()
    clock = FakeTime(T)
    patch.setattr(_time, "time", clock)
    platform = Platform.open(Settings.load(environ={}, home=found, actor="seeder"))
    try:
        tell(platform, clock)
        platform.projects.create("recsys", Actor(name="root"))
    finally:
        patch.undo()
        platform.close()
    return found


@pytest.fixture
def viewer(home: Path) -> Iterator[httpx.Client]:
    """A viewer logged in to a server with auth on."""
    application = create_app(Settings.load(environ={}, home=home, auth=True))
    secret = application.state.platform.auth.create("viewer", Actor(name="root"), name="pm").secret
    with httpx.Client(
        transport=SyncASGITransport(application), base_url="http://testserver"
    ) as client:
        assert client.post("/login", data={"token": secret, "next": "/"}).status_code == 303
        yield client
    application.state.platform.close()


def rows_of(html: str, table: str) -> list[list[str]]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
        if "<td" in row
    ]


def test_the_page_shows_the_map_figures_hours_and_lead_times(viewer: httpx.Client) -> None:
    page = viewer.get(f"/ui/report?project=mod&{PERIOD}")
    assert page.status_code == 200, page.text
    assert page.headers["server-timing"].startswith("render;dur=")
    html = page.text
    svg = html.split('<div class="map">', 1)[1].split("</svg>", 1)[0] + "</svg>"
    root = ET.fromstring(svg)
    assert "rollback: automated" in (root.get("aria-label") or "")
    assert "Next to automate: <strong>training</strong>, 0.3 h of people's time" in html
    assert "33%</span> change failure rate (1 rolled back)" in html
    assert "16 min 45 s</span> to roll back (median)" in html
    hours = rows_of(html, "hours-table")
    assert [row[0] for row in hours[:2]] == ["training", "deployment"]  # people's hours first
    assert hours[0][1] == "◐ manual" and hours[0][2] == "0.3 h"
    data = next(row for row in hours if row[0] == "data collection")
    assert (data[2], data[6]) == ("not measured", "not measured")
    leads = rows_of(html, "lead-table")
    assert [row[1].split()[0] for row in leads] == ["violation@1", "violation@2"]
    assert leads[1][2] == "canary" and leads[1][8] == "41 min 40 s"  # deployed → promoted
    assert '<a href="/ui/report" class="here">Report</a>' in html


def test_the_pickers_change_what_it_shows(viewer: httpx.Client) -> None:
    later = viewer.get(f"/ui/report?project=mod&since=2025-06-15T16:22:00&until={UNTIL}").text
    assert "No model version was deployed for the first time" in later
    assert rows_of(later, "hours-table")[0][0] == "rollback"  # nothing manual was timed
    assert "No manual stage with measured time" in later
    other = viewer.get(f"/ui/report?project=recsys&{PERIOD}").text
    assert "0 events" in other and "◐ manual" not in other
    assert '<option value="recsys" selected>' in other
    narrowed = viewer.get(f"/ui/report?endpoint=ep&{PERIOD}").text
    assert '<option value="ep" selected>' in narrowed
    assert '<option value="mod" selected>' in narrowed  # the endpoint's project
    assert "/api/v1/report?endpoint=ep&amp;since=2025-06-15T15%3A06%3A40&amp;until=" in narrowed


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("since=yesterday", 422, "since &#39;yesterday&#39; is not a time"),
        (f"since={UNTIL}&until={SINCE}", 422, "since must be before until"),
        ("project=ghost", 404, "project &#39;ghost&#39; not found"),
        ("project=recsys&endpoint=ep", 422, "belongs to project &#39;mod&#39;"),
    ],
)
def test_bad_input_is_a_4xx_page_naming_it(
    viewer: httpx.Client, query: str, status: int, words: str
) -> None:
    page = viewer.get(f"/ui/report?{query}")
    assert page.status_code == status
    assert words in page.text


def test_with_auth_off_the_local_user_sees_it_and_with_auth_on_nobody_else(home: Path) -> None:
    application = create_app(Settings.load(environ={}, home=home, auth=False))
    with httpx.Client(transport=SyncASGITransport(application), base_url="http://t") as client:
        page = client.get(f"/ui/report?{PERIOD}")
        assert page.status_code == 200 and "every project" in page.text
    application.state.platform.close()
    guarded = create_app(Settings.load(environ={}, home=home, auth=True))
    with httpx.Client(transport=SyncASGITransport(guarded), base_url="http://t") as client:
        answer = client.get("/ui/report")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    guarded.state.platform.close()
