#!/usr/bin/env bash
# One worker of a shared mnist-search study, run in its own clone of the project (two workers never
# share a workspace: DVC locks it). Every launcher in search/launch/ runs this, and so do the tests.
# Workers meet only in the study's database and the team's git and DVC remotes: each trial uses
# what the DVC remote holds (a trial another worker ran is restored from its run-cache) and is
# pushed when it finishes (`dvc exp push --run-cache`); a worker that dies loses only its running
# trial, which another worker runs again once its heartbeat has stopped.
#
# usage: search/worker.sh SPACE_FILE        (from the clone's root, its environment installed)
# environment (credentials only ever from here, never from a file in git):
#   MNIST_SEARCH_STORAGE      the study's database, e.g. postgresql://optuna:secret@db.internal/optuna
#   DVC_REMOTE_URL            the DVC remote, e.g. s3://bucket/mnist-zoo (else the clone's default remote)
#   DVC_REMOTE_ENDPOINT_URL   its endpoint, for MinIO or another S3-compatible store (optional)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the DVC remote's credentials
#   GIT_REMOTE                where experiments are pushed (default: origin)
#   MNIST_SEARCH_HEARTBEAT    seconds between heartbeats (default: mnist-search's)
set -euo pipefail
space=${1:?usage: search/worker.sh SPACE_FILE}
: "${MNIST_SEARCH_STORAGE:?set MNIST_SEARCH_STORAGE to the URL of the study database}"

if [ -n "${DVC_REMOTE_URL:-}" ]; then
  dvc remote add --local --force --default worker "$DVC_REMOTE_URL"
  if [ -n "${DVC_REMOTE_ENDPOINT_URL:-}" ]; then
    dvc remote modify --local worker endpointurl "$DVC_REMOTE_ENDPOINT_URL"
  fi
fi
if ! dvc remote default > /dev/null 2>&1; then
  echo "search/worker.sh: no DVC remote: set DVC_REMOTE_URL (or add a default remote)" >&2
  exit 2
fi
# Experiments are git commits: a machine with no git identity gets one naming the worker.
if [ -z "$(git config user.email || true)" ]; then
  git config user.email "mnist-search@$(hostname)"
  git config user.name "mnist-search worker"
fi
exec "${PYTHON:-python}" -m mnist_zoo.experiments.search run "$space" --push "${GIT_REMOTE:-origin}" \
  ${MNIST_SEARCH_HEARTBEAT:+--heartbeat "$MNIST_SEARCH_HEARTBEAT"}
