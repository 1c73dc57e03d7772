"""`streamlit run`, after loading what the pages need, so the first visitor does not wait for it.

Streamlit runs a page's script only when someone opens it, so the first visitor would wait for
pandas, plotly and MLflow to import and for MLflow to open its store: about 2 of the 3.5 s of
a first render measured with `invoke bench`. Doing it before the server listens makes the
dashboard healthy about 2 s later instead; the API, and so the first prediction, does not
wait for it. It is not done in a thread beside the server: two threads importing pandas and
plotly at once can each find the other's module half-initialized (a crash seen in a cold start).
A failure here is left for the page to report, where the user sees it with its hint.
"""

from __future__ import annotations

import sys


def warm_up() -> None:
    """What every page needs: the imports and the champion lookup. Not Evidently (3.5 s to
    import here), which only the drift parts use, after the page's first figures."""
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
    warm_up()
    from streamlit.web.cli import main as streamlit

    streamlit(["run", *sys.argv[1:]], prog_name="streamlit")


if __name__ == "__main__":
    main()
