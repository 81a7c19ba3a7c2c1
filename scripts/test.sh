#!/usr/bin/env bash
# The whole test suite: build, typecheck, unit and security tests, end-to-end tests on the
# local lab (needs root: the lab runs systemd-nspawn hosts), then a scan of everything hapg
# printed during them for secrets. Ends with one "N passed, N failed" line.
# With arguments (e.g. --project unit) only what they select runs, without the scan.
set -uo pipefail
cd "$(dirname "$0")/.."

npm run --silent build || exit 1
npm run --silent typecheck || exit 1

results=$(mktemp -t hapg-test-results.XXXXXX.json)
scan=$(mktemp -t hapg-test-scan.XXXXXX.json)
export HAPG_E2E_OUTPUT
HAPG_E2E_OUTPUT=$(mktemp -d -t hapg-e2e-output.XXXXXX)
trap 'rm -rf "$results" "$scan" "$HAPG_E2E_OUTPUT"' EXIT

npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
status=$?
reports=("$results")
if [ $# -eq 0 ]; then
  HAPG_SECRET_SCAN=1 npx vitest run --project secret-scan --reporter=default --reporter=json --outputFile.json="$scan" || status=1
  reports+=("$scan")
fi
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const file of process.argv.slice(1)) {
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (skipped > 0) { console.error("skipped tests are not allowed"); process.exit(1); }
' "${reports[@]}" || status=1
exit $status
