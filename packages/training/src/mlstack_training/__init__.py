"""mlstack training."""
