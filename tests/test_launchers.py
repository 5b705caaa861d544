"""The launchers of a shared mnist-search study, checked as far as this machine allows: each parses,
has the shape its scheduler needs, and runs search/worker.sh, the command tests/test_search_workers.py
runs its workers with."""

import json

import yaml

from tests.conftest import PROJECT_ROOT, run


def test_every_launcher_runs_the_worker_the_tests_run():
    """The Slurm array, the Kubernetes Job and the GitHub Actions matrix each run search/worker.sh
    in a clone of their own, with the database and the remotes from the environment."""
    launch = PROJECT_ROOT / "search" / "launch"
    slurm = (launch / "slurm.sbatch").read_text()
    assert "#SBATCH --array=" in slurm and "search/worker.sh" in slurm
    run(["bash", "-n", str(launch / "slurm.sbatch")], PROJECT_ROOT)

    (job,) = list(yaml.safe_load_all((launch / "kubernetes.yaml").read_text()))
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["spec"]["parallelism"] >= 2 and job["spec"]["completions"] == job["spec"]["parallelism"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert "search/worker.sh" in " ".join(container["command"] + container.get("args", []))
    assert container["envFrom"] == [{"secretRef": {"name": "mnist-search"}}]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")

    workflow = yaml.safe_load((PROJECT_ROOT / ".github/workflows/search.yml").read_text())
    assert "workflow_dispatch" in workflow[True]  # YAML reads the key `on` as True
    worker = workflow["jobs"]["worker"]
    assert "matrix" in worker["strategy"]
    commands = "\n".join(step.get("run", "") for step in worker["steps"])
    assert "search/worker.sh" in commands
    environment = json.dumps(workflow["env"])
    for name in ("MNIST_SEARCH_STORAGE", "DVC_REMOTE_URL", "AWS_SECRET_ACCESS_KEY"):
        assert f"secrets.{name}" in environment
