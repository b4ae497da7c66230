#!/bin/sh
# Same steps as `make run`: migrate, load the demo community if empty, train the NLU model
# if none is active, then serve.
set -e
minhu db upgrade
if [ "${MINHU_LOAD_DEMO:-true}" = "true" ]; then
  minhu demo
fi
minhu nlu train --if-missing
exec "$@"
