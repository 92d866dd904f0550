"""Deploy timings: three sshd hosts on 127.0.0.2-4 with no package index, the
example project, bin/deploy end to end (python bench/deploy.py; results in
bench/results/deploy-<time>.json). Reuses the test suite's hosts and project."""
import datetime
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402
from test_deploy import Project, SshHosts  # noqa: E402

RUNS = 3


def timed(project, *args):
    started = time.monotonic()
    project.deploy(*args)
    return time.monotonic() - started


def preparation(project, hosts):
    """What bin/buildout spends packing the eggs and fetching the wheels that
    deploys ship: a run that must make them again, less a run that need not."""
    def buildout():
        started = time.monotonic()
        built = project.configure(hosts)
        assert built.returncode == 0, built.stdout + built.stderr
        return time.monotonic() - started

    for made in ("eggs", "wheels"):
        shutil.rmtree(project.directory / "parts" / "deploy" / made)
    return buildout() - buildout()


def main():
    conftest.make_test_virtualenv()
    os.environ["PIP_NO_BUILD_ISOLATION"] = "0"
    results = {"buildout_preparing_shipment": [], "first": [], "unchanged": [], "forced": [],
               "forced_parallel_3": []}
    for run in range(RUNS):
        hosts = SshHosts(conftest.world_readable_directory(Path("/var/tmp"), "dw-bench-"))
        try:
            for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
                shared = hosts.base(address) / "shared"
                shared.mkdir(parents=True)
                (shared / "host.cfg").write_text(f"[host]\nlisten = {address}:{hosts.web_port}\n")
                for path in (hosts.base(address), shared, shared / "host.cfg"):
                    os.chmod(path, 0o755 if path.is_dir() else 0o644)
            project = Project(hosts, conftest.world_readable_directory(conftest.TEST_ROOT, "bench-deploy-"))
            results["buildout_preparing_shipment"].append(preparation(project, hosts))
            results["first"].append(timed(project, "deploy"))
            results["unchanged"].append(timed(project, "deploy"))
            results["forced"].append(timed(project, "deploy", "--force"))
            project.configure(hosts, {"parallel": "3"})
            project.commit("parallel 3")
            results["forced_parallel_3"].append(timed(project, "deploy", "--force"))
        finally:
            hosts.stop()
        print(run, {k: round(v[-1], 1) for k, v in results.items()}, flush=True)
    summary = {k: {"median_s": round(statistics.median(v), 1), "runs_s": [round(x, 1) for x in v]}
               for k, v in results.items()}
    print(json.dumps(summary, indent=2))
    out = Path(__file__).parent / "results" / f"deploy-{datetime.datetime.utcnow():%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"hosts": 3, "index_on_hosts": False, **summary}, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
