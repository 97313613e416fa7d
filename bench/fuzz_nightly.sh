#!/usr/bin/env bash
# Nightly (not CI): the property-based HTTP tests with random examples and many more of them.
# CI runs the same tests derandomised (tests/conftest.py's "ci" hypothesis profile), so CI is
# never flaky; this run is where new failures are found. A failure prints the falsifying
# example and a `@reproduce_failure` line to add to the test while fixing it.
#   bash bench/fuzz_nightly.sh             # ~10-20 min on 2 cores
#   SCHEMATHESIS_N=2000 FUZZ_N=10000 bash bench/fuzz_nightly.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export HYPOTHESIS_PROFILE=nightly
export SCHEMATHESIS_N=${SCHEMATHESIS_N:-300}
export FUZZ_N=${FUZZ_N:-2000}
exec "${PYTHON:-python}" -m pytest -q -p no:cacheprovider \
  tests/server/test_schemathesis.py tests/reliability/test_fuzz_http.py "$@"
