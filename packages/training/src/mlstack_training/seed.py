"""The bundled seed sample: a synthetic customer-churn table, generated deterministically.

`invoke up` bootstraps from it, tests train on it, and the committed CSV must stay exactly what
`generate()` produces (a test checks), so anyone can see how every value came to be.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261128
ROWS = 6000
TARGET = "churned"
CSV_NAME = "seed_churn.csv"
SPEC_NAME = "seed_churn.yaml"


def data_path(name: str) -> Path:
    return Path(str(resources.files("mlstack_training") / "data" / name))


def seed_csv() -> Path:
    return data_path(CSV_NAME)


def seed_spec() -> Path:
    return data_path(SPEC_NAME)


def _with_missing(rng: np.random.Generator, values: pd.Series, share: float) -> pd.Series:
    return values.mask(rng.random(len(values)) < share)


def generate(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    """Customers with plausible, correlated attributes and a churn label drawn from them."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(
        ["month-to-month", "one-year", "two-year"], size=rows, p=[0.55, 0.25, 0.20]
    )
    internet = rng.choice(["fiber", "dsl", "none"], size=rows, p=[0.45, 0.35, 0.20])
    payment = rng.choice(
        ["electronic-check", "mailed-check", "bank-transfer", "credit-card"],
        size=rows,
        p=[0.35, 0.2, 0.225, 0.225],
    )
    region = rng.choice(["north", "south", "east", "west"], size=rows, p=[0.3, 0.25, 0.25, 0.2])
    paperless = rng.choice(["yes", "no"], size=rows, p=[0.6, 0.4])
    age = np.clip(rng.normal(45, 14, rows), 18, 85).round()
    tenure_scale = np.select([contract == "one-year", contract == "two-year"], [30, 45], 12)
    tenure = np.clip(rng.exponential(tenure_scale), 0, 72).round()
    base_charge = np.select([internet == "fiber", internet == "dsl"], [80.0, 55.0], 22.0)
    monthly = np.clip(base_charge + rng.normal(0, 12, rows), 18, 125).round(2)
    total = (monthly * tenure * rng.normal(1.0, 0.03, rows)).round(2)
    support_calls = rng.poisson(1.4, rows)
    devices = rng.poisson(1.8, rows) + 1
    last_login = rng.exponential(9, rows).round(1)

    logit = (
        -1.6
        + 1.3 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        + 0.6 * (internet == "fiber")
        + 0.55 * (payment == "electronic-check")
        + 0.25 * (paperless == "yes")
        - 0.045 * tenure
        + 0.38 * support_calls
        + 0.035 * last_login
        + 0.012 * (monthly - 60)
        - 0.012 * (age - 45)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))

    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(1, rows + 1)],
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support_calls,
            "devices": devices,
            "days_since_last_login": last_login,
            "contract": contract,
            "internet_service": internet,
            "payment_method": payment,
            "paperless_billing": paperless,
            "region": region,
            TARGET: np.where(churned, "yes", "no"),
        }
    )
    frame["age"] = _with_missing(rng, frame["age"], 0.02)
    frame["total_charges"] = _with_missing(rng, frame["total_charges"], 0.01)
    frame["days_since_last_login"] = _with_missing(rng, frame["days_since_last_login"], 0.04)
    frame["region"] = _with_missing(rng, frame["region"], 0.03)
    frame["internet_service"] = _with_missing(rng, frame["internet_service"], 0.01)
    return frame


def to_csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n", float_format="%.6g")


def write(path: Path | None = None) -> Path:
    target = path or seed_csv()
    target.write_text(to_csv_text(generate()), encoding="utf-8")
    return target
