#!/usr/bin/env bash
# The pull-request workflow's model run for one side, kept here so that tests/test_remote.py runs
# exactly these commands, with and without a loopback S3 server as the remote.
#
# usage: .github/scripts/quick_profile.sh base|head|main    (run with that commit checked out;
#        pages.yml runs it for main to build the page)
#
# With a DVC remote (DVC_REMOTE_URL from the repository's secrets, or a default remote in the
# committed .dvc/config): full runs of every recipe. Each stage whose run is already in the
# remote's run-cache (same code, params and data: the base branch, normally) is restored instead of
# rerun, so a pull request trains only what it changed; this side's runs are pushed for the next.
# Without one: the pull-request profile ($PROFILE_FILE, by default bench/pull_request_profile.yaml;
# or $QUICK_PROFILE's `-S key=value` switches), small enough to run both sides here.
# Either way it commits the result, tags it quick-<side> and says which profile it ran
# (profile=full|pull_request on stdout and, in GitHub Actions, in $GITHUB_OUTPUT).
set -euo pipefail
side=${1:?usage: quick_profile.sh base|head|main}
profile_file=${PROFILE_FILE:-bench/pull_request_profile.yaml}

if [ -n "${DVC_REMOTE_URL:-}" ]; then
  dvc remote add --local --force --default ci "$DVC_REMOTE_URL"
  if [ -n "${DVC_REMOTE_ENDPOINT_URL:-}" ]; then  # MinIO or another S3-compatible service
    dvc remote modify --local ci endpointurl "$DVC_REMOTE_ENDPOINT_URL"
  fi
fi

if dvc remote default > /dev/null 2>&1; then
  profile=full
  echo "quick profile ($side): DVC remote '$(dvc remote default)': full runs, restoring stages from its run-cache where it has them"
  dvc exp run --pull
  dvc push --run-cache
else
  profile=pull_request
  if [ -n "${QUICK_PROFILE:-}" ]; then
    read -r -a switches <<< "$QUICK_PROFILE"
  else
    # Each `key: value` of the committed profile as a `-S key=value` switch.
    mapfile -t switches < <(python3 -c '
import json, sys, yaml
for key, value in yaml.safe_load(open(sys.argv[1])).items():
    print("-S"), print(f"{key}={json.dumps(value)}")' "$profile_file")
  fi
  echo "quick profile ($side): no DVC remote configured: the pull-request profile, every stage run here"
  dvc exp run "${switches[@]}"
fi
git add -A
git commit -q --allow-empty -m "quick profile: $side ($profile)"  # empty: every stage was up to date
git tag -f "quick-$side"
echo "profile=$profile"
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "profile=$profile" >> "$GITHUB_OUTPUT"; fi
