#!/usr/bin/env bash
# tally.sh: run test suites one after another and close with one line that
# sums them, "N passed, N failed[, N skipped]", the line CI reads (the last
# such line; see .ci/run).
#
#   scripts/tally.sh LABEL COMMAND [LABEL COMMAND ...]
#
# Each COMMAND is a shell command whose output ends with its own closing
# line, plain or after "LABEL: ". That line is shown as "LABEL: N passed,
# ...", so only the sum is plain. A suite that prints no closing line, or
# exits non-zero with no failure counted, adds one failure.
set -uo pipefail

CLOSING='^([A-Za-z0-9_-]+: )?([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'

passed=0 failed=0 skipped=0
while [ $# -ge 2 ]; do
  label=$1 cmd=$2
  shift 2
  last=
  # The suite's output, then its exit status on a line of its own.
  while IFS= read -r line; do
    if [[ $line =~ ^@@tally-rc\ ([0-9]+)$ ]]; then
      rc=${BASH_REMATCH[1]}
    elif [[ $line =~ $CLOSING ]]; then
      last=$line
      echo "$label: ${line#"${BASH_REMATCH[1]}"}"
    else
      printf '%s\n' "$line"
    fi
  done < <(bash -c "$cmd" 2>&1; echo "@@tally-rc $?")
  if [[ $last =~ $CLOSING ]]; then
    passed=$((passed + BASH_REMATCH[2]))
    failed=$((failed + BASH_REMATCH[3]))
    skipped=$((skipped + ${BASH_REMATCH[5]:-0}))
    if [ "$rc" != 0 ] && [ "${BASH_REMATCH[3]}" = 0 ]; then
      echo "$label: FAIL exited $rc with no failure counted"
      failed=$((failed + 1))
    fi
  else
    echo "$label: FAIL no closing line (exited $rc)"
    failed=$((failed + 1))
  fi
done

line="$passed passed, $failed failed"
[ "$skipped" = 0 ] || line="$line, $skipped skipped"
echo "$line"
[ "$failed" = 0 ]
