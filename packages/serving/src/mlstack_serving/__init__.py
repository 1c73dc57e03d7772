"""mlstack serving."""
