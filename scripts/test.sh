#!/usr/bin/env bash
# The whole test suite: build, typecheck, unit tests, then end-to-end tests on the local lab
# (needs root: the lab runs systemd-nspawn hosts). Ends with one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."

npm run --silent build || exit 1
npm run --silent typecheck || exit 1

results=$(mktemp -t hapg-test-results.XXXXXX.json)
trap 'rm -f "$results"' EXIT
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (skipped > 0) { console.error("skipped tests are not allowed"); process.exit(1); }
' "$results" || status=1
exit $status
