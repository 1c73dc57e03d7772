#!/bin/bash
# Run once by the postgres image on an empty volume, after it created POSTGRES_DB (the
# prediction store): MLflow's backend store is a second database on the same server.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE DATABASE mlflow OWNER \"${POSTGRES_USER}\""
