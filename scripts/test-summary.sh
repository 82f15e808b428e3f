#!/usr/bin/env bash
# Sum the `test result:` lines of a cargo test log into one closing line,
# and fail when any test failed.
set -euo pipefail
log=${1:-target/test-output.txt}
passed=0; failed=0; ignored=0
while read -r p f i; do
  passed=$((passed + p)); failed=$((failed + f)); ignored=$((ignored + i))
done < <(sed -n 's/.*test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$log")
echo "Summary: ${passed} passed, ${failed} failed, ${ignored} skipped"
grep -q 'error: test failed\|FAILED' "$log" && exit 1
[ "$failed" -eq 0 ]
