"""The dashboard's Overview page rendered without a browser, by the Python of a deployed venv."""

from __future__ import annotations


def overview_script() -> str:
    """Python that renders the Overview (Streamlit's AppTest) and prints its texts as JSON.

    Run by the interpreter that has the dashboard installed, with its settings: it prints the
    metrics as `label: value`, then the captions and warnings.
    """
    return (
        "import json; from mlstack_dashboard.app import VIEWS; "
        "from streamlit.testing.v1 import AppTest; "
        "a = AppTest.from_file(str(VIEWS / 'overview.py'), default_timeout=60); a.run(); "
        "print(json.dumps([f'{m.label}: {m.value}' for m in a.metric] "
        "+ [c.value for c in a.caption] + [w.value for w in a.warning]))"
    )
