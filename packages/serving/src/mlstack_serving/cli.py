"""`mlstack-serve`: build the Bento of the champion, and serve it (or the source, with reload)."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlstack_core.cli import fail, guarded, make_app
from mlstack_core.endpoints import WAITING_FOR_PORT
from mlstack_core.errors import (
    ConfigError,
    MlstackError,
    RegistryUnreachableError,
    ServiceError,
    StoreUnavailableError,
)
from mlstack_core.settings import COMPOSE_HINT, Settings

PORT_POLL_SECONDS = 0.02
app = make_app("Build and serve the champion model with BentoML.")
console = Console(stderr=True)


def _settings() -> Settings:
    return guarded(lambda settings: settings, level="INFO")


@app.command()
def build() -> None:
    """Import the champion into the BentoML store and build the Bento `mlstack:v<version>`."""
    settings = _settings()
    from mlstack_serving.build import BentoBuilder

    try:
        with console.status("Building the Bento of the champion"):
            result = BentoBuilder(settings).build()
    except MlstackError as exc:
        fail(exc)
    model = "reused" if result.model_reused else "imported"
    bento = "reused" if result.bento_reused else "built"
    console.print(
        f"model {result.model_tag} ({model}), Bento [bold]{result.bento_tag}[/bold] ({bento}), "
        f"inference: {result.inference}"
    )
    console.print(f"  {result.bento_path}")


def _check_store(settings: Settings) -> None:
    """Refuse to serve (exit 2) when predictions could not be logged where settings say."""
    from mlstack_core.store import PredictionStore, display_url

    url = settings.store_url
    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if path is not None and path.is_relative_to(settings.bentoml_home):
        raise ConfigError(
            f"the prediction store {url} is inside the BentoML store",
            f"point MLSTACK_PREDICTION_STORE_URL (or MLSTACK_HOME) outside {settings.bentoml_home}",
        )
    store: PredictionStore | None = None
    try:
        store = PredictionStore(url)
        store.migrate()
        store.probe()
    except StoreUnavailableError as exc:
        raise ConfigError(
            f"the prediction store {display_url(url)} cannot be written: "
            + exc.cause.removeprefix("prediction store unavailable: "),
            COMPOSE_HINT
            if settings.env == "docker"
            else "fix MLSTACK_PREDICTION_STORE_URL, or free space / start the database",
        ) from None
    finally:
        if store is not None:
            store.dispose()


def _named_bento(settings: Settings, tag: str) -> str:
    """`tag` when that Bento is in the store (read from its folder: no BentoML import)."""
    from mlstack_core.artifacts import bento_built

    if not bento_built(settings, tag):
        raise ServiceError(
            f"no Bento {tag} in {settings.bentoml_home}",
            "run `invoke build` first, or serve without --bento to serve the champion",
        )
    return tag


def _champion_bento(settings: Settings) -> str:
    """The Bento of the registry's champion; the newest Bento when the registry is unreachable."""
    from mlstack_core.artifacts import BENTO_NAME
    from mlstack_core.champion_lookup import RegistryNotReadableError, champion_version_from_db

    try:
        version = champion_version_from_db(settings)
    except RegistryNotReadableError:
        version = None
    if version is not None:  # a database registry: one query, no MLflow or BentoML import
        return _named_bento(settings, f"{BENTO_NAME}:v{version}")
    return _champion_bento_by_mlflow(settings)


def _champion_bento_by_mlflow(settings: Settings) -> str:
    """The champion's Bento as MLflow's client and BentoML's store find it (remote registries)."""
    import bentoml
    from bentoml.exceptions import NotFound
    from mlflow.exceptions import MlflowException

    from mlstack_core.artifacts import BENTO_NAME
    from mlstack_core.registry import ModelRegistry
    from mlstack_serving.home import use_bentoml_home

    use_bentoml_home(settings.bentoml_home)
    unreachable: MlstackError | None = None
    try:
        champion = ModelRegistry(settings).require_champion()
        tag = f"{BENTO_NAME}:v{champion.version}"
    except RegistryUnreachableError as exc:
        console.print(f"[yellow]{exc.cause}; serving the newest Bento[/]", highlight=False)
        unreachable, tag = exc, f"{BENTO_NAME}:latest"
    except (MlflowException, OSError) as exc:
        console.print(f"[yellow]registry unreachable ({exc}); serving the newest Bento[/]")
        tag = f"{BENTO_NAME}:latest"
    try:
        return str(bentoml.get(tag).tag)
    except NotFound:
        if unreachable is not None:
            raise unreachable from None
        raise ServiceError(
            f"no Bento {tag} in {settings.bentoml_home}",
            "run `invoke build` first (or `invoke serve --reload` to serve from source)",
        ) from None


def _wait_for_port(host: str, port: int, timeout: float) -> None:
    """Return as soon as `host:port` can be bound (the server holding it has let go)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            fail(
                ServiceError(
                    f"port {port} was still in use after {timeout:.0f} s",
                    "stop the server on it, or set MLSTACK_API_PORT to a free port",
                )
            )
        time.sleep(PORT_POLL_SECONDS)


@app.command()
def serve(
    reload: Annotated[
        bool, typer.Option(help="Serve the service from source with hot reload (development).")
    ] = False,
    wait_for_port: Annotated[
        float,
        typer.Option(
            help="Get ready, then wait up to this many seconds for the port to be free (the "
            "supervisor's move to a new Bento: the old server stops meanwhile)."
        ),
    ] = 0.0,
    bento: Annotated[
        str | None,
        typer.Option(
            help="Serve this Bento (NAME:VERSION) without asking the registry for the champion "
            "(`invoke up` passes the champion it just looked up)."
        ),
    ] = None,
) -> None:
    """Serve the champion's Bento on MLSTACK_API_HOST:MLSTACK_API_PORT."""
    settings = _settings()
    address = ["--host", settings.api_host, "--port", str(settings.api_port)]
    try:
        _check_store(settings)
    except MlstackError as exc:
        fail(exc)
    if reload:
        source = Path(__file__).resolve().parent.parent
        target = ["mlstack_serving.service:Mlstack", "--reload", "--working-dir", str(source)]
    else:
        try:
            target = [_named_bento(settings, bento) if bento else _champion_bento(settings)]
        except MlstackError as exc:
            fail(exc)
    env = settings.child_env({"BENTOML_HOME": str(settings.bentoml_home)})
    if wait_for_port:
        console.print(f"{WAITING_FOR_PORT} ({settings.api_host}:{settings.api_port})")
        sys.stderr.flush()
        _wait_for_port(settings.api_host, settings.api_port, wait_for_port)
    console.print(f"serving {target[0]} on http://{settings.api_host}:{settings.api_port}")
    sys.stdout.flush()
    command = [sys.executable, "-m", "bentoml", "serve", *target, *address]
    os.execve(sys.executable, command, env)  # noqa: S606 (this process becomes the server)
