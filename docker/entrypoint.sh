#!/bin/sh
# Same steps as `make run`: migrate, load the demo community if empty (never in prod), train
# the NLU model if none is active, then serve. A production deployment bootstraps its first
# console account with `minhu admin create --username NAME` instead (README, deploy checklist).
# MINHU_BOOTSTRAP=false (the production compose's replicas): skip all of it, only serve; the
# one-shot `migrate` service did it once (migrations also take a PostgreSQL advisory lock).
set -e
if [ "${MINHU_BOOTSTRAP:-true}" = "true" ]; then
  minhu db upgrade
  if [ "${MINHU_LOAD_DEMO:-true}" = "true" ] && { [ "${MINHU_ENV:-dev}" != "prod" ] || [ "${MINHU_DEMO_IN_PROD:-false}" = "true" ]; }; then
    minhu demo
  fi
  minhu nlu train --if-missing
fi
exec "$@"
