"""`mlstack-containers`: the wheelhouse and the images of the champion's Bento."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import typer
from rich.console import Console

from mlstack_core.cli import fail, guarded, make_app
from mlstack_core.errors import MlstackError
from mlstack_core.settings import Settings
from mlstack_deploy.champion import champion_bento

app = make_app("Wheelhouse, images, compose and Kubernetes manifests of mlstack.")
console = Console(stderr=True)

BentoOption = Annotated[
    str | None,
    typer.Option("--bento", help="Bento tag or folder (default: the champion's Bento)."),
]


def _settings() -> Settings:
    return guarded(lambda settings: settings, level="INFO")


@app.command()
def wheelhouse(
    bento: BentoOption = None,
    stack: Annotated[
        bool, typer.Option(help="Also the MLflow and dashboard images' wheelhouses.")
    ] = False,
) -> None:
    """Download the wheels of a Bento's requirements once; print the folder."""
    settings = _settings()
    from mlstack_deploy.images import project_root, stack_wheelhouses
    from mlstack_deploy.wheelhouse import bento_wheelhouse

    try:
        tag = bento or champion_bento(settings)
        with console.status(f"Wheelhouse of {tag}"), ThreadPoolExecutor() as pool:
            images = pool.submit(stack_wheelhouses, settings, project_root()) if stack else None
            house = bento_wheelhouse(settings, tag)
            others = images.result() if images else []
    except MlstackError as exc:
        fail(exc)
    for made in [house, *others]:
        state = "reused" if made.reused else "made"
        console.print(f"wheelhouse {made.path} ({state}, {len(made.pinned())} wheels)")
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


@app.command("compose-up")
def compose_up(
    offline: Annotated[
        bool, typer.Option(help="Build every image from local things only (no registry).")
    ] = False,
) -> None:
    """Build the images and start the containerized stack; wait for health; print the table."""
    import time

    from mlstack_deploy.compose import compose_up as bring_up
    from mlstack_deploy.report import exit_code, report

    settings = _settings()
    began = time.perf_counter()
    try:
        outcomes, images = bring_up(
            settings,
            offline,
            lambda line: console.print(f"[bold]{line}[/] ({time.perf_counter() - began:.1f} s)"),
        )
    except MlstackError as exc:
        fail(exc)
    for image in images:
        made = "unchanged, reused" if image.reused else "built"
        console.print(f"image {image.image}: {made} in {image.seconds:.1f} s")
    report(Console(), outcomes)
    degraded = exit_code(outcomes) != 0
    console.print(
        f"ready in {time.perf_counter() - began:.1f} s"
        + (" — [yellow]degraded[/]: fix the services above" if degraded else "")
    )
    raise typer.Exit(exit_code(outcomes))


@app.command("compose-down")
def compose_down(
    volumes: Annotated[
        bool, typer.Option(help="Also delete the volumes (database, artifacts).")
    ] = False,
) -> None:
    """Stop and remove the stack's containers (and its volumes with --volumes)."""
    from mlstack_deploy.compose import compose_down as bring_down

    settings = _settings()
    try:
        bring_down(settings, volumes)
    except MlstackError as exc:
        fail(exc)
    console.print("the compose stack is stopped" + (" and its volumes deleted" if volumes else ""))


ExampleSecrets = Annotated[
    bool,
    typer.Option(help="Render with each missing secret file taken from its committed .example."),
]


@app.command("k8s-render")
def k8s_render(
    overlay: Annotated[str, typer.Option(help="Overlay under deployment/kubernetes/overlays.")] = (
        "local"
    ),
    example_secrets: ExampleSecrets = False,
) -> None:
    """Print the rendered manifests of an overlay (`kubectl kustomize`)."""
    from mlstack_deploy.images import project_root
    from mlstack_deploy.kustomize import render

    guarded(lambda settings: settings)
    try:
        print(render(project_root(), overlay, example_secrets), end="")
    except MlstackError as exc:
        fail(exc)


@app.command("k8s-validate")
def k8s_validate(example_secrets: ExampleSecrets = False) -> None:
    """Render every overlay and validate it strictly against the Kubernetes schemas."""
    from mlstack_deploy.images import project_root
    from mlstack_deploy.kustomize import overlays, render, validate

    guarded(lambda settings: settings)
    try:
        root = project_root()
        for name in overlays(root):
            validate(render(root, name, example_secrets), name)
            console.print(f"overlay {name}: valid")
    except MlstackError as exc:
        fail(exc)
