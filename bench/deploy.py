"""Deploy timings: three sshd hosts on 127.0.0.2-4 with no package index, the
example project, bin/deploy end to end (python bench/deploy.py; results in
bench/results/deploy-<time>.json). The hosts and the project are the test
suite's (tools/support/sshd.py). --smoke: one run, for the test that proves
this script starts."""
import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from support import places  # noqa: E402
from support.sshd import Project, started_hosts  # noqa: E402

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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="one run, results not written")
    args = parser.parse_args()
    places.make_test_virtualenv()
    os.environ["PIP_NO_BUILD_ISOLATION"] = "0"
    results = {"buildout_preparing_shipment": [], "first": [], "unchanged": [], "forced": [],
               "forced_parallel_3": []}
    for run in range(1 if args.smoke else RUNS):
        hosts = started_hosts()
        try:
            project = Project(hosts, places.world_readable_directory(places.TEST_ROOT, "bench-deploy-"))
            results["buildout_preparing_shipment"].append(preparation(project, hosts))
            results["first"].append(timed(project, "deploy"))
            results["unchanged"].append(timed(project, "deploy"))
            results["forced"].append(timed(project, "deploy", "--force"))
            project.configure(hosts, {"parallel": "3"})
            project.commit("parallel 3")
            results["forced_parallel_3"].append(timed(project, "deploy", "--force"))
        finally:
            hosts.stop()
            shutil.rmtree(hosts.root, ignore_errors=True)
        print(run, {k: round(v[-1], 1) for k, v in results.items()}, flush=True)
    summary = {k: {"median_s": round(statistics.median(v), 1), "runs_s": [round(x, 1) for x in v]}
               for k, v in results.items()}
    print(json.dumps(summary, indent=2))
    if args.smoke:
        return
    out = Path(__file__).parent / "results" / f"deploy-{datetime.datetime.utcnow():%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"hosts": 3, "index_on_hosts": False, **summary}, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
