"""mkdocs hooks: the README is the site's home page, so the two never disagree.

Links in the README point into `docs/` (they work on GitHub); on the site `docs/` is the root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

README = Path(__file__).resolve().parents[1] / "README.md"


def on_files(files: Files, config: Any) -> Files:
    home = README.read_text(encoding="utf-8").replace("](docs/", "](")
    files.append(File.generated(config, "index.md", content=home))
    return files
