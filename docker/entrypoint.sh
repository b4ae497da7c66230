#!/bin/sh
# Same steps as `make run`: migrate, load the demo community if empty (never in prod), train
# the NLU model if none is active, then serve. A production deployment bootstraps its first
# console account with `minhu admin create --username NAME` instead (README, deploy checklist).
set -e
minhu db upgrade
if [ "${MINHU_LOAD_DEMO:-true}" = "true" ] && { [ "${MINHU_ENV:-dev}" != "prod" ] || [ "${MINHU_DEMO_IN_PROD:-false}" = "true" ]; }; then
  minhu demo
fi
minhu nlu train --if-missing
exec "$@"
