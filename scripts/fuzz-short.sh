#!/usr/bin/env bash
# Runs every Go fuzz target in the module briefly: $FUZZTIME executions each
# (default 10000x; a count, not a duration, so a slow baseline-coverage pass
# on a busy machine cannot hit the deadline). FUZZTIME=1m for longer runs.
# The seed corpora in testdata/fuzz/ also run as plain tests in `go test ./...`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10000x}"
# Targets whose every execution compresses a fresh page of tens of KiB run
# fewer times by default (about 15 s each on 2 cores).
default_count() {
  case $1 in
    FuzzSplice) echo 2000x ;;
  esac
}
count=0
while IFS= read -r file; do
  pkg="./$(dirname "$file")"
  for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    ft=$fuzztime
    if [[ -z ${FUZZTIME:-} && -n $(default_count "$fn") ]]; then ft=$(default_count "$fn"); fi
    echo "fuzz $pkg $fn ($ft)"
    if ! go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$ft" "$pkg" >/tmp/fuzz-$$.log 2>&1; then
      # Go's coordinator can time out waiting for a busy worker at the end of
      # a short run ("context deadline exceeded", no failing input): that is
      # no finding, so run once more. A real failure writes "Failing input".
      if grep -q "context deadline exceeded" /tmp/fuzz-$$.log && ! grep -q "Failing input" /tmp/fuzz-$$.log; then
        echo "  $fn: fuzz coordinator timed out without a finding; running again"
        go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$ft" "$pkg" >/tmp/fuzz-$$.log 2>&1 || { cat /tmp/fuzz-$$.log; exit 1; }
      else
        cat /tmp/fuzz-$$.log; exit 1
      fi
    fi
    count=$((count+1))
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort)
rm -f /tmp/fuzz-$$.log
echo "fuzz: $count targets ran without a failure ($fuzztime each unless listed in default_count)"
