"""`mlstack-train train`: bad input is refused with exit code 2, one clean line and no side
effect; the plots can follow the result (`--plots-later`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.testing.servers import VENV_BIN, venv_path
from mlstack_training import seed
from mlstack_training.cli import app
from mlstack_training.job import TrainingJob, TrainingRequest, TrainingResult

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def churn(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, rows).astype(float),
            "plan": rng.choice(["basic", "pro"], rows),
            "churned": rng.choice(["yes", "no"], rows),
        }
    )


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def snapshot(settings: Settings) -> tuple[int, int | None]:
    registry = ModelRegistry(settings)
    champion = registry.champion()
    return len(registry.versions()), champion.version if champion else None


def bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    numeric_spec = tmp / "spec.yaml"
    numeric_spec.write_text("target: churned\nnumeric: [tenure]\ncategorical: [plan]\n")
    text_tenure = churn().assign(tenure=["12", "n/a-ish"] * 100)
    (tmp / "latin1.csv").write_bytes("tenure,plan,churned\n1,caf\xe9,yes\n".encode("latin-1"))
    (tmp / "empty.csv").write_bytes(b"")
    (tmp / "dupes.csv").write_text("tenure,plan,tenure,churned\n1,a,2,yes\n" * 1)
    return {
        "missing file": (
            ["--data", str(tmp / "absent.csv"), "--target", "churned"],
            "does not exist",
        ),
        "empty file": (["--data", str(tmp / "empty.csv"), "--target", "churned"], "is empty"),
        "not utf-8": (["--data", str(tmp / "latin1.csv"), "--target", "churned"], "not UTF-8"),
        "target missing": (
            ["--data", str(write_csv(tmp / "a.csv", churn())), "--target", "left"],
            "target column 'left' is not in",
        ),
        "single class": (
            [
                "--data",
                str(write_csv(tmp / "b.csv", churn().assign(churned="yes"))),
                "--target",
                "churned",
                "--task",
                "binary",
            ],
            "single class",
        ),
        "target all missing": (
            [
                "--data",
                str(write_csv(tmp / "c.csv", churn().assign(churned=None))),
                "--target",
                "churned",
            ],
            "has no values (all missing)",
        ),
        "feature column missing": (
            [
                "--data",
                str(write_csv(tmp / "d.csv", churn().drop(columns="plan"))),
                "--target",
                "churned",
                "--spec",
                str(numeric_spec),
            ],
            "feature column(s) missing from the data: 'plan'",
        ),
        "feature column all empty": (
            [
                "--data",
                str(write_csv(tmp / "e.csv", churn().assign(plan=None))),
                "--target",
                "churned",
                "--spec",
                str(numeric_spec),
            ],
            "no values at all: 'plan'",
        ),
        "text in numeric column": (
            [
                "--data",
                str(write_csv(tmp / "f.csv", text_tenure)),
                "--target",
                "churned",
                "--spec",
                str(numeric_spec),
            ],
            "column 'tenure' is numeric in the spec but has non-numeric values",
        ),
        "infinite values": (
            [
                "--data",
                str(write_csv(tmp / "g.csv", churn().assign(tenure=[1.0, np.inf] * 100))),
                "--target",
                "churned",
            ],
            "column 'tenure' has infinite values",
        ),
        "too few rows": (
            ["--data", str(write_csv(tmp / "h.csv", churn(rows=20))), "--target", "churned"],
            "only 20 usable rows; at least 50",
        ),
        "duplicate columns": (
            ["--data", str(tmp / "dupes.csv"), "--target", "churned"],
            "duplicate column names: 'tenure'",
        ),
    }


CASES = [
    "missing file",
    "empty file",
    "not utf-8",
    "target missing",
    "single class",
    "target all missing",
    "feature column missing",
    "feature column all empty",
    "text in numeric column",
    "infinite values",
    "too few rows",
    "duplicate columns",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_and_changes_nothing(
    case: str, trained: tuple[Settings, TrainingResult], tmp_path: Path
) -> None:
    settings, _ = trained
    before = snapshot(settings)
    args, message = bad_inputs(tmp_path)[case]
    result = runner.invoke(app, ["train", *args], env={"MLSTACK_HOME": str(settings.home)})
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "hint:" in result.output
    assert "Traceback" not in result.output
    assert snapshot(settings) == before


def test_invoke_train_exits_2_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        ["invoke", "train", "--data", str(tmp_path / "nope.csv"), "--target", "y"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"MLSTACK_HOME": str(tmp_path), "PATH": venv_path()},
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "error: data file" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "mlflow.db").exists()


def test_promote_and_rollback_commands(trained: tuple[Settings, TrainingResult]) -> None:
    settings, _ = trained
    env = {"MLSTACK_HOME": str(settings.home)}
    missing = runner.invoke(app, ["promote", "99"], env=env)
    assert missing.exit_code == 2
    assert "has no version 99" in missing.output
    nothing = runner.invoke(app, ["rollback"], env=env)
    assert nothing.exit_code == 2
    assert "no earlier champion" in nothing.output


def _artifacts(settings: Settings, run_id: str) -> set[str]:
    client = ModelRegistry(settings).client
    return {a.path for a in client.list_artifacts(run_id, "plots")}


PLOTS = {"plots/performance.png", "plots/feature_importance.png", "plots/feature_importance.json"}


def test_plots_later_are_logged_after_the_result_before_the_exit(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(VENV_BIN / "mlstack-train"), "train", "--seed-sample", "--plots-later"],
        capture_output=True,
        text=True,
        env={"MLSTACK_HOME": str(tmp_path), "PATH": venv_path()},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    settings = Settings(home=tmp_path)
    champion = ModelRegistry(settings).require_champion()
    assert _artifacts(settings, champion.run_id) == PLOTS


def test_a_job_leaves_its_plots_to_the_caller_only_when_asked(
    settings: Settings, trained: tuple[Settings, TrainingResult]
) -> None:
    trained_settings, by_default = trained
    assert by_default.plots is None
    assert _artifacts(trained_settings, by_default.run_id) == PLOTS
    later = TrainingJob(settings).run(
        TrainingRequest(data=seed.seed_csv(), spec_path=seed.seed_spec(), plots_later=True)
    )
    assert later.plots is not None
    assert _artifacts(settings, later.run_id) == set()
    later.plots()
    assert _artifacts(settings, later.run_id) == PLOTS
