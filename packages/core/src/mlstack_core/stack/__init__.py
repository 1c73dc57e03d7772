"""The local stack: start, watch and stop the MLflow UI, the API and the dashboard."""
