#!/usr/bin/env bash
# Usage: check_no_diff.sh PATH MESSAGE — fail if git sees changes (or new files) under PATH.
set -u
path=$1; msg=$2
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "(not a git checkout: skipping the '$path' diff check)"; exit 0
fi
changes=$(git status --porcelain -- "$path")
if [ -n "$changes" ]; then
  echo "$changes"; git --no-pager diff --stat -- "$path"
  echo "ERROR: $msg"; exit 1
fi
