"""`mlstack-containers`: the wheelhouse and the images of the champion's Bento."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from mlstack_core.cli import fail, guarded, make_app
from mlstack_core.errors import MlstackError
from mlstack_core.settings import Settings

app = make_app("Wheelhouse, images, compose and Kubernetes manifests of mlstack.")
console = Console(stderr=True)

BentoOption = Annotated[
    str | None,
    typer.Option("--bento", help="Bento tag or folder (default: the champion's Bento)."),
]


def _settings() -> Settings:
    return guarded(lambda settings: settings, level="INFO")


def champion_bento(settings: Settings) -> str:
    """The tag of the champion's Bento, `mlstack:v<registry version>`."""
    from mlstack_core.registry import ModelRegistry

    return f"mlstack:v{ModelRegistry(settings).require_champion().version}"


@app.command()
def wheelhouse(bento: BentoOption = None) -> None:
    """Download the wheels of a Bento's requirements once; print the folder."""
    settings = _settings()
    from mlstack_deploy.wheelhouse import bento_wheelhouse

    try:
        tag = bento or champion_bento(settings)
        with console.status(f"Wheelhouse of {tag}"):
            house = bento_wheelhouse(settings, tag)
    except MlstackError as exc:
        fail(exc)
    state = "reused" if house.reused else "made"
    console.print(f"wheelhouse of {tag} ({state}, {len(house.pinned())} wheels)")
    print(house.path)


@app.command()
def containerize(
    bento: BentoOption = None,
    offline: Annotated[
        bool,
        typer.Option(help="Use only local things: the Debian base image and the wheelhouse."),
    ] = False,
) -> None:
    """`bentoml containerize` the Bento into the image of the same tag, with a health check."""
    settings = _settings()
    from mlstack_deploy.containers import containerize as build_image

    try:
        tag = bento or champion_bento(settings)
        with console.status(f"Building the image of {tag}" + (" offline" if offline else "")):
            result = build_image(settings, tag, offline=offline)
    except MlstackError as exc:
        fail(exc)
    console.print(f"image [bold]{result.image}[/] built in {result.seconds:.1f} s")
    print(result.image)
