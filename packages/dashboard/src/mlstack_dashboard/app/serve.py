"""`streamlit run` with the pages' imports and the registry store warmed up beside the server.

Streamlit runs a page's script only when someone opens it, so the first visitor would wait for
pandas, plotly and MLflow to import and for MLflow to open its store: about 2 of the 3.5 s of
a first render measured with `invoke bench`. A thread does that work while the server starts.
A failure there is left for the page to report, where the user sees it with its hint.
"""

from __future__ import annotations

import sys
import threading


def warm_up() -> None:
    """What every page needs: the imports and the champion lookup. Not Evidently (3.5 s to
    import here): holding the interpreter that long would slow the first render instead."""
    try:
        import plotly.express  # noqa: F401 - loaded now so that no page waits for it

        from mlstack_core.settings import load_settings
        from mlstack_dashboard import ui  # noqa: F401
        from mlstack_dashboard.monitoring import Monitor

        monitor = Monitor(load_settings())
        try:
            monitor.champion()
        finally:
            monitor.close()
    except Exception:  # noqa: S110 - the page reports the same failure to the user
        pass


def main() -> None:
    threading.Thread(target=warm_up, name="mlstack-warm-up", daemon=True).start()
    from streamlit.web.cli import main as streamlit

    streamlit(["run", *sys.argv[1:]], prog_name="streamlit")


if __name__ == "__main__":
    main()
