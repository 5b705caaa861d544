#!/usr/bin/env bash
# The pull-request workflow's model run for one side, kept here so that tests/test_remote.py runs
# exactly these commands against a loopback S3 server.
#
# usage: .github/scripts/quick_profile.sh base|head    (run with the side's commit checked out)
#
# Reproduces the pipeline on $QUICK_PROFILE (dvc exp run -S ... switches), commits the result and
# tags it quick-<side>. With a DVC remote (DVC_REMOTE_URL from the repository's secrets, or a
# default remote in the committed .dvc/config), each stage whose run is already in the remote's
# run-cache (same code, params and data) is restored instead of rerun, so the base branch is not
# retrained on every pull request, and this side's runs are pushed for the next one.
set -euo pipefail
side=${1:?usage: quick_profile.sh base|head}
read -r -a profile <<< "${QUICK_PROFILE:?set QUICK_PROFILE to the dvc exp run -S switches of the quick profile}"

if [ -n "${DVC_REMOTE_URL:-}" ]; then
  dvc remote add --local --force --default ci "$DVC_REMOTE_URL"
  if [ -n "${DVC_REMOTE_ENDPOINT_URL:-}" ]; then  # MinIO or another S3-compatible service
    dvc remote modify --local ci endpointurl "$DVC_REMOTE_ENDPOINT_URL"
  fi
fi

if dvc remote default > /dev/null 2>&1; then
  echo "quick profile ($side): DVC remote '$(dvc remote default)': restoring stages from its run-cache where it has them"
  dvc exp run --pull "${profile[@]}"
  dvc push --run-cache
else
  echo "quick profile ($side): no DVC remote configured: every stage runs here"
  dvc exp run "${profile[@]}"
fi
git add -A
git commit -qm "quick profile: $side"
git tag -f "quick-$side"
