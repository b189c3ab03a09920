"""``opsloop demo``: one reference workload through the whole loop, on a server of its own.

1. read the workload's data (offline, from pip packages) and start an `opsloop server` on
   127.0.0.1 with a store of the demo's own;
2. train, gate and deploy the first model as a person would; set the monitor (with an alert
   whose action is the retrain pipeline) and, where the workload has one, the review policy;
3. replay the later data as live traffic at a steady pace, its truth coming back as delayed
   feedback, a simulated reviewer deciding the queue (or a person, with ``interactive``);
4. watch the Events as the server's scheduler detects the drift, retrains, gates, canaries and
   promotes; print what happened with numbers;
5. leave the server running with its URL printed, or stop it (``serve=False``).
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from opsloop.demos import WORKLOADS
from opsloop.demos._reviewer import SimulatedReviewer
from opsloop.demos._server import DemoServer
from opsloop.demos._story import Outcome, outcome, read_events, story_line
from opsloop.demos._traffic import Replay
from opsloop.demos._workload import PACE_VARIABLE, Pace, Workload
from opsloop.domain.alerts import parse_rules
from opsloop.domain.entities import Event, ModelVersion
from opsloop.domain.errors import InvalidInput
from opsloop.domain.report import Report

MARKER = ".opsloop-demo"  # marks a store the demo made, so a second run may replace it
MISTAKE_RATE = 0.05  # how often the simulated reviewer is wrong
WATCH_EVERY_S = 0.5
SETTLE_S = 30.0  # after the replay: time for the last windows and a running pipeline


@dataclass
class DemoResult:
    workload: str
    url: str
    home: Path
    outcome: Outcome
    first_version: str
    sent: int
    labelled: int
    reviewed: int
    reviewer_mistakes: int
    failures: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # the project's, up to the report
    report: Report | None = None  # the measure of the loop, read when it was done

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "url": self.url,
            "home": str(self.home),
            "first_version": self.first_version,
            "traffic": self.sent,
            "labels": self.labelled,
            "reviewed": self.reviewed,
            "reviewer_mistakes": self.reviewer_mistakes,
            "failures": self.failures,
            **self.outcome.as_dict(),
            "maturity": None
            if self.report is None
            else {row.stage.value: row.level.value for row in self.report.stages},
        }


def workload_of(name: str) -> Workload:
    where = WORKLOADS.get(name)
    if where is None:
        raise InvalidInput(
            f"unknown workload {name!r}: one of {', '.join(WORKLOADS)}", field="workload"
        )
    module, attribute = where.split(":")
    made: Workload = getattr(importlib.import_module(module), attribute)()
    return made


def prepare_home(home: Path) -> None:
    """A fresh store at ``home``; one an earlier demo made is replaced, anything else kept."""
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise InvalidInput(
                f"{home} exists and is not a demo's store: give --home a new folder",
                field="home",
            )
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("made by `opsloop demo`; the next demo run replaces it\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_demo(
    name: str,
    *,
    home: Path | None = None,
    port: int | None = None,
    fast: bool = False,
    serve: bool = True,
    interactive: bool = False,
    console: Console | None = None,
    show_report: Callable[[Report, Console], None] | None = None,
) -> DemoResult:
    """The demo of workload ``name``, the steps above; ``show_report`` prints the report read
    at the end (the CLI passes its summary of one)."""
    import opsloop

    console = console or Console()
    workload = workload_of(name)
    home = home or Path(".opsloop-demo") / name
    prepare_home(home)
    pace = Pace.of(fast)
    with console.status(f"reading the data: {workload.title}"):
        data = workload.load()
        requests = workload.traffic(data)
    server = DemoServer(
        home,
        port or free_port(),
        pipelines=workload.pipelines_module,
        tick_s=pace.tick_s,
        log=home / "server.log",
        environment={PACE_VARIABLE: "1" if fast else "0"},
    )
    with console.status("starting the server"):
        server.start()
    try:
        client = opsloop.connect(url=server.url)
        with console.status("training, gating and deploying the first model (by hand)"):
            first = workload.first_model(data)
            from opsloop.sdk.monitoring import set_monitor
            from opsloop.sdk.review import set_review_policy

            set_monitor(client, workload.endpoint, workload.monitor_policy(pace))
            review = workload.review_policy()
            if review is not None:
                set_review_policy(client, workload.endpoint, review)
        console.print(f"[bold]{workload.title}[/]")
        console.print(
            f"first model {first.ref} serves [bold]{workload.endpoint}[/] on {server.url}"
        )
        if interactive and review is not None:
            console.print(
                f"review the uncertain items yourself: {server.url}/ui/review/{workload.endpoint}"
            )
        after_id = read_events(client, workload.project)[-1:]
        result = _replay(
            workload,
            requests,
            pace,
            server.url,
            client,
            console,
            interactive=interactive,
            review=review is not None,
            after_id=after_id[0].id if after_id else 0,
            first=first,
        )
        result.url, result.home = server.url, home
        report = opsloop.report(project=workload.project, endpoint=workload.endpoint)
        result.report = report
        # Every Event the report was computed from (the story above began after the first
        # model); the monitor goes on writing, so those after the report are left out.
        result.events = [e for e in read_events(client, workload.project) if e.time < report.until]
        _print(console, workload, result)
        if show_report is not None:
            show_report(report, console)
            console.print(
                f"the whole report: opsloop report --project {report.project} "
                f"--endpoint {report.endpoint}"
            )
        if serve and server.alive():
            console.print(
                f"\n[bold]opsloop is running on {server.url}[/] — the UI at {server.url}/ui, "
                f"the store in {home} (OPSLOOP_HOME={home} opsloop ... to look around). "
                "Ctrl-C stops it."
            )
            with contextlib.suppress(KeyboardInterrupt):
                server.wait()
        return result
    finally:
        opsloop.get_client().close()
        server.stop()


def _replay(
    workload: Workload,
    requests: list[Any],
    pace: Pace,
    url: str,
    client: Any,
    console: Console,
    *,
    interactive: bool,
    review: bool,
    after_id: int,
    first: ModelVersion,
) -> DemoResult:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[moment]}"),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("live traffic", total=len(requests), moment="")
    replay = Replay(
        url,
        workload.endpoint,
        requests,
        replay_s=pace.replay_s,
        label_delay_s=pace.label_delay_s,
        label_share=workload.label_share,
        on_sent=lambda n: progress.update(
            task, completed=n, moment=f"{requests[n - 1].happened:%Y-%m-%d}"
        ),
    )
    reviewer = None
    if review and not interactive:
        reviewer = SimulatedReviewer(
            client,
            workload.endpoint,
            replay.truth,
            choices=workload.review_choices,
            mistake_rate=MISTAKE_RATE,
            handling_s=pace.reviewer_handling_s,
        )
    seen: list[Event] = []
    stop_watch = threading.Event()

    def watch() -> None:
        last = after_id
        while not stop_watch.is_set():
            last = _tell(client, workload.project, last, replay, seen, progress.console.print)
            stop_watch.wait(WATCH_EVERY_S)

    watcher = threading.Thread(target=watch, name="demo-story", daemon=True)
    with progress:
        replay.start()
        if reviewer is not None:
            reviewer.start()
        watcher.start()
        replay.join()
        deadline = time.time() + SETTLE_S + pace.canary_timeout_s
        while time.time() < deadline and not _settled(seen, pace, replay):
            time.sleep(WATCH_EVERY_S)
        stop_watch.set()
        watcher.join()
        if reviewer is not None:
            reviewer.stop.set()
            reviewer.join(timeout=10)
    _tell(client, workload.project, seen[-1].id if seen else after_id, replay, seen, console.print)
    [rule] = parse_rules([workload.alert])
    found = outcome(
        client, workload.endpoint, workload.figure, seen, started=replay.started_at, rule=rule
    )
    found.moments = {
        "onset": _moment(replay, found.onset_s),
        "detected": _moment(replay, found.detected_s),
        "recovered": _moment(replay, found.recovered_s),
    }
    return DemoResult(
        workload=workload.name,
        url=url,
        home=Path(),
        outcome=found,
        first_version=first.ref,
        sent=len(replay.state.sent),
        labelled=replay.state.labelled,
        reviewed=0 if reviewer is None else reviewer.decided,
        reviewer_mistakes=0 if reviewer is None else reviewer.mistakes,
        failures=replay.state.failures + ([] if reviewer is None else reviewer.failures),
        events=seen,
    )


def _tell(
    client: Any,
    project: str,
    after_id: int,
    replay: Replay,
    seen: list[Event],
    say: Callable[[str], None],
) -> int:
    for event in read_events(client, project, after_id):
        seen.append(event)
        after_id = event.id
        line = story_line(event)
        if line is not None:
            offset = event.time.timestamp() - (replay.started_at or event.time.timestamp())
            say(f"[dim]{offset:6.1f} s[/]  {line}")
    return after_id


def _settled(events: list[Event], pace: Pace, replay: Replay) -> bool:
    """The replay's last window has had time to be computed and no retrain is running."""
    if (
        time.time()
        < (replay.state.sent[-1].wall if replay.state.sent else 0)
        + 2 * pace.window_s
        + pace.label_delay_s
    ):
        return False
    started = sum(1 for e in events if e.kind == "pipeline_run.started")
    ended = sum(1 for e in events if e.kind in ("pipeline_run.succeeded", "pipeline_run.failed"))
    return started == ended


def _moment(replay: Replay, offset: float | None) -> Any:
    return None if offset is None else replay.happened_at(replay.started_at + offset)


def _print(console: Console, workload: Workload, result: DemoResult) -> None:
    found = result.outcome
    table = Table(title=f"{workload.name}: what happened", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("traffic", f"{result.sent} requests, {result.labelled} labels came back")
    if result.reviewed:
        table.add_row(
            "review",
            f"{result.reviewed} decided by the simulated reviewer "
            f"({result.reviewer_mistakes} wrong)",
        )
    label = workload.figure.label
    table.add_row(f"{label} before drift", _number(found.before))
    table.add_row(f"{label} at its worst", _number(found.worst))
    table.add_row(f"{label} after recovery", _number(found.after))
    table.add_row("alert rule", found.rule.condition)
    table.add_row("onset", _when(found.onset_s, found.moments.get("onset")))
    table.add_row(
        "detected", _after(found.onset_s, found.detected_s, found.moments.get("detected"))
    )
    table.add_row(
        "recovered (promoted)",
        _after(found.onset_s, found.recovered_s, found.moments.get("recovered")),
    )
    table.add_row("retrains", _retrains(found))
    table.add_row(
        "loop",
        "[green]closed[/]" if found.closed else "[red]did not close[/] (see the Events above)",
    )
    console.print(table)
    for failure in result.failures[:5]:
        console.print(f"[red]failed request[/]: {failure}")


def _retrains(found: Outcome) -> str:
    """How many retrains the alerts started, and how each ended."""
    told = {
        "gate said go": found.verdicts.count("go"),
        "gate said no-go": found.verdicts.count("no-go"),
        "promoted": found.promotions,
        "rolled back": found.rollbacks,
    }
    shown = ", ".join(f"{what} {count}" for what, count in told.items() if count)
    return f"{found.retrains} started by alerts" + (f": {shown}" if shown else "")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _when(offset: float | None, moment: Any) -> str:
    if offset is None:
        return "n/a"
    seen = f" (traffic of {moment:%Y-%m-%d %H:%M})" if moment is not None else ""
    return f"{offset:.1f} s into the replay{seen}"


def _after(onset: float | None, at: float | None, moment: Any) -> str:
    if at is None:
        return "no"
    if onset is None:
        return _when(at, moment)
    seen = f", traffic of {moment:%Y-%m-%d %H:%M}" if moment is not None else ""
    return f"{at - onset:.1f} s after onset{seen}"
