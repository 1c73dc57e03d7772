"""Whether a built Bento still holds this checkout's code, read from its bento.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack_core.bento_code import bento_is_current, built_from, sources_digest
from mlstack_core.settings import Settings


def write_bento(home: Path, version: str, labels: str) -> None:
    folder = home / "bentoml" / "bentos" / "mlstack" / version
    folder.mkdir(parents=True)
    (folder / "bento.yaml").write_text(f"service: svc\nlabels:\n{labels}\n")


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-ins for the installed mlstack_core and mlstack_serving, whose code the digest
    reads (this package's own test environment has no mlstack_serving)."""
    import mlstack_core.bento_code as bento_code

    root = tmp_path / "site-packages"
    for package in bento_code.SOURCE_PACKAGES:
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    monkeypatch.setattr(bento_code, "source_folder", lambda package: root / package)
    monkeypatch.setattr(bento_code, "requirement_pins", lambda: ["bentoml==1.4.40"])
    return root


@pytest.fixture
def settings(tmp_path: Path, sources: Path) -> Settings:
    return Settings(home=tmp_path / "state")


def test_a_bento_labelled_with_this_code_is_current(settings: Settings) -> None:
    write_bento(settings.home, "v1", f"  inference: numpy\n  sources: {sources_digest()}")
    assert built_from(settings, "mlstack:v1") == sources_digest()
    assert bento_is_current(settings, "mlstack:v1")


@pytest.mark.parametrize(
    "labels",
    ["  sources: 0123456789abcdef", "  inference: numpy"],
    ids=["other code", "unlabelled"],
)
def test_other_or_unknown_code_is_not_current(settings: Settings, labels: str) -> None:
    write_bento(settings.home, "v1", labels)
    assert not bento_is_current(settings, "mlstack:v1")


def test_a_missing_or_unreadable_bento_is_not_current(settings: Settings) -> None:
    assert built_from(settings, "mlstack:v2") is None
    write_bento(settings.home, "v3", "  sources: [unclosed")
    assert built_from(settings, "mlstack:v3") is None
    assert not bento_is_current(settings, "mlstack:v3")


def test_the_digest_changes_with_the_code_not_with_its_bytecode(sources: Path) -> None:
    before = sources_digest()
    (sources / "mlstack_serving" / "service.py").write_text("answer = 42\n")
    changed = sources_digest()
    assert changed != before
    (sources / "mlstack_serving" / "__pycache__").mkdir()
    (sources / "mlstack_serving" / "__pycache__" / "service.cpython-311.pyc").write_bytes(b"x")
    assert sources_digest() == changed


def test_the_digest_changes_with_a_pinned_version(
    sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlstack_core.bento_code as bento_code

    before = sources_digest()
    monkeypatch.setattr(bento_code, "requirement_pins", lambda: ["bentoml==1.4.41"])
    assert sources_digest() != before


def test_without_the_serving_sources_any_built_bento_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment that cannot build a Bento (no mlstack_serving, as in this package's own
    test environment) serves what is built."""
    import mlstack_core.bento_code as bento_code

    monkeypatch.setattr(bento_code, "source_folder", lambda package: None)
    settings = Settings(home=tmp_path)
    write_bento(settings.home, "v1", "  sources: 0123456789abcdef")
    assert sources_digest() is None
    assert bento_is_current(settings, "mlstack:v1")
    assert not bento_is_current(settings, "mlstack:v2")
