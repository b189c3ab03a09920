"""What the SDK does when a batch cannot be sent: nothing logged is lost, mistakes fail
where they are made, and an ended run takes no more writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import opsloop
from opsloop.domain.entities import RunStatus
from opsloop.domain.errors import Conflict, InvalidInput, Unavailable
from opsloop.domain.settings import Settings
from opsloop.sdk.client import Client

from .conftest import free_port, running_server
from .test_cli import console


def test_numpy_steps_are_whole_numbers(sdk: Client) -> None:
    with opsloop.start_run(project="p") as run:
        for step in np.arange(3):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert sdk.metric_history(run.id, "loss").steps == [0, 1, 2]


@pytest.mark.parametrize(
    ("option", "value"),
    [("step", -1), ("step", 2**63), ("step", 1.5), ("step", "3"), ("timestamp_ms", -5)],
)
def test_a_bad_step_or_time_is_refused_where_it_is_logged(
    sdk: Client, option: str, value: object
) -> None:
    with opsloop.start_run(project="p") as run:
        run.log_metric("good", 1.0)
        with pytest.raises(InvalidInput) as caught:
            run.log_metric("loss", 0.5, **{option: value})  # type: ignore[arg-type]
        assert caught.value.field == "metrics.loss"
    stored = opsloop.get_run(run.id)
    assert stored.status == RunStatus.FINISHED
    assert stored.metrics == {"good": 1.0}  # the good point was not lost with the bad one


def test_an_ended_run_refuses_writes_with_the_servers_error(sdk: Client) -> None:
    with opsloop.start_run(project="p") as run:
        pass
    with pytest.raises(Conflict):
        run.log_metric("late", 1.0)
    with pytest.raises(Conflict):
        sdk.add_run_artifact(run.id, "late.txt", sdk.upload(b"late"))
    assert opsloop.get_run(run.id).artifacts == []


def test_nothing_is_lost_while_the_server_is_away(tmp_path: Path) -> None:
    port = free_port()
    client = Client(Settings.load(environ={}, url=f"http://127.0.0.1:{port}"))
    try:
        run = opsloop.start_run("p", "offline", client=client, params={"C": 1})
        for step in range(100):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        with pytest.raises(Unavailable):  # no server on that port yet
            run.end()
        assert not run.ended
        with running_server(tmp_path / "home", port, tmp_path / "server.log"):
            ended = run.end()  # the same buffer, sent now
            history = client.metric_history(run.id, "loss")
        assert ended.status == RunStatus.FINISHED and ended.params == {"C": "1"}
        assert history.steps == list(range(100))
    finally:
        client.close()


def test_the_cli_says_one_line_when_the_server_is_away(tmp_path: Path) -> None:
    done = console(tmp_path, "--url", f"http://127.0.0.1:{free_port()}", "runs", "list", "p")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach the opsloop server")
    assert "Traceback" not in done.stderr + done.stdout


def test_an_in_memory_store_works(tmp_path: Path) -> None:
    from opsloop.sdk import api as sdk_api

    client = sdk_api.connect(home=tmp_path, database_url="sqlite:///:memory:")
    try:
        with opsloop.start_run(project="p") as run:
            run.log_metric("a", 1.0)
        assert opsloop.get_run(run.id).metrics == {"a": 1.0}
    finally:
        client.close()
        sdk_api._default = None
