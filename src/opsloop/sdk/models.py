"""Saving models into the registry and loading them back, verified."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsloop.domain.entities import ModelVersion, Signature
from opsloop.domain.names import parse_model_ref
from opsloop.services import flavors
from opsloop.services.signature import infer_signature

if TYPE_CHECKING:
    from opsloop.sdk.client import Client


def register_model(
    client: Client,
    model: Any,
    name: str,
    *,
    input_example: Any = None,
    flavor: str | None = None,
    description: str = "",
    run_id: str | None = None,
) -> ModelVersion:
    """Save ``model`` under ``project/name`` as its next version (``name`` is project/model)."""
    ref = parse_model_ref(name)
    chosen = flavors.get(flavor) if flavor else flavors.detect(model)
    signature = (
        infer_signature(model, input_example) if input_example is not None else (Signature())
    )
    sha256 = client.upload(chosen.save(model))
    return client.register_version(
        ref.project,
        ref.model,
        flavor=chosen.name,
        sha256=sha256,
        signature=signature,
        run_id=run_id,
        description=description,
    )


def load_model(client: Client, uri: str) -> Any:
    """``models:/project/model@alias`` (or ``@3``, ``/3``, bare = latest) → a model with
    ``predict``. The bytes are checked against the version's sha256 before they are loaded."""
    return load_version(client, uri)[1]


def load_version(client: Client, uri: str) -> tuple[ModelVersion, Any]:
    """``load_model``, with the version it resolved to."""
    version = client.get_model_version(parse_model_ref(uri))
    return version, flavors.get(version.flavor).load(client.download(version.sha256))
