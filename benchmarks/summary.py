"""The last line every benchmark prints: its summary as JSON, also saved for `targets.py`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(summary: dict[str, Any], save: Path | None) -> None:
    """Print `summary` as one JSON line and, with `save`, write it there too."""
    if save:
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(json.dumps(summary))
    print(json.dumps(summary))
