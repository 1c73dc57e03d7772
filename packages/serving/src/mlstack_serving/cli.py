"""`mlstack-serve`: build the Bento of the champion, and serve it (or the source, with reload)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlstack_core.cli import fail, guarded, make_app
from mlstack_core.errors import MlstackError, ServiceError
from mlstack_core.settings import Settings

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


def _champion_bento(settings: Settings) -> str:
    """The Bento of the registry's champion; the newest Bento when the registry is unreachable."""
    import bentoml
    from bentoml.exceptions import NotFound
    from mlflow.exceptions import MlflowException

    from mlstack_core.registry import ModelRegistry
    from mlstack_serving.build import BENTO_NAME
    from mlstack_serving.home import use_bentoml_home

    use_bentoml_home(settings.bentoml_home)
    try:
        champion = ModelRegistry(settings).require_champion()
        tag = f"{BENTO_NAME}:v{champion.version}"
    except (MlflowException, OSError) as exc:
        console.print(f"[yellow]registry unreachable ({exc}); serving the newest Bento[/]")
        tag = f"{BENTO_NAME}:latest"
    try:
        return str(bentoml.get(tag).tag)
    except NotFound:
        raise ServiceError(
            f"no Bento {tag} in {settings.bentoml_home}",
            "run `invoke build` first (or `invoke serve --reload` to serve from source)",
        ) from None


@app.command()
def serve(
    reload: Annotated[
        bool, typer.Option(help="Serve the service from source with hot reload (development).")
    ] = False,
) -> None:
    """Serve the champion's Bento on MLSTACK_API_HOST:MLSTACK_API_PORT."""
    settings = _settings()
    address = ["--host", settings.api_host, "--port", str(settings.api_port)]
    if reload:
        source = Path(__file__).resolve().parent.parent
        target = ["mlstack_serving.service:Mlstack", "--reload", "--working-dir", str(source)]
    else:
        try:
            target = [_champion_bento(settings)]
        except MlstackError as exc:
            fail(exc)
    env = {**os.environ, "BENTOML_HOME": str(settings.bentoml_home.resolve())}
    console.print(f"serving {target[0]} on http://{settings.api_host}:{settings.api_port}")
    sys.stdout.flush()
    command = [sys.executable, "-m", "bentoml", "serve", *target, *address]
    os.execve(sys.executable, command, env)  # noqa: S606 (this process becomes the server)
