"""One spelling per category value, shared by training, the API and monitoring.

Kept apart from the pandera contract so that the API's request types can use it without
importing pandas and pandera (seconds of every API start).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np


def normalize_category(value: Any) -> Any:
    """One spelling per category value: integral floats lose `.0`, everything else is text."""
    pandas = sys.modules.get("pandas")  # pandas' NA can only exist once pandas is imported
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return np.nan
    if pandas is not None and value is pandas.NA:
        return np.nan
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
