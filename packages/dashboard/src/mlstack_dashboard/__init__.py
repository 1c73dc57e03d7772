"""mlstack dashboard."""
