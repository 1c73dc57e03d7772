"""Running the product: the `mlstack` CLI and its supervisor on this machine, and beyond it."""
