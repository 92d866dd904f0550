"""The benchmarks' smoke modes: every bench/ script starts and runs each of its
targets for a second or two, so that none can rot. Numbers are not judged here;
see docs/benchmarks.rst. ``make test-bench`` (in .ci/run after ``make test``)."""
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def smoke_run(script, tmp_path):
    """bench/``script`` in smoke mode: what it printed, and the report it wrote."""
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), "--smoke", "--output", str(tmp_path)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [written] = tmp_path.glob("smoke-*.json")
    return result.stdout, json.loads(written.read_text())


def test_benchmark_smoke_run(tmp_path):
    stdout, report = smoke_run("run.py", tmp_path)
    results = report["results"]
    for target in ("page: apache daemon (package defaults)", "page: apache embedded",
                   "page: mod_wsgi-express defaults", "page: django handler in-process (ceiling)",
                   "static: apache /static/", "static: django /django-static/",
                   "first 200 after graceful (preload)", "first 200 after reload (no preload)",
                   "failed requests during reload", "service back after SIGKILL",
                   "buildout no-op: djangowsgi", "buildout no-op: djangorecipe"):
        assert target in results, target
        assert results[target]["values"], target
    assert any(name.startswith("page: gunicorn") for name in results)
    # The peers a production user weighs, each answering the page (and nginx the static file).
    for peer in ("nginx + gunicorn", "nginx + uWSGI", "uWSGI", "granian"):
        assert any(name.startswith(f"page: {peer} ") and results[name]["median"] > 0 for name in results), peer
    assert results["static: nginx /static/"]["median"] > 0
    assert results["static: apache floor (minimal config)"]["median"] > 0
    assert results["page: apache daemon, workload = cpu"]["median"] > 0
    assert results["page: apache daemon, worker-threads = 64"]["median"] > 0
    for server in ("apache daemon (package defaults)", "apache daemon, workload = cpu",
                   "nginx + gunicorn 2 sync workers"):
        assert results[f"page waiting 5 ms: {server}"]["median"] > 0, server
    # Where the CPU went, by kind of process: Apache's workers and the daemons; nginx and gunicorn.
    for row in ("page: apache daemon (package defaults): apache", "page: apache daemon (package defaults): "
                "mod_wsgi daemon", "static: apache /static/: apache", "static: nginx /static/: nginx"):
        assert results[f"cpu/request, {row}"]["median"] > 0, row
    assert any(name.startswith("cpu/request, page: nginx + gunicorn") and name.endswith("application server")
               for name in results)
    assert set(report["targets"]) == {"page vs best peer", "page waiting vs best peer", "static vs nginx",
                                      "flood socket errors, % (lower is better)"}
    # The flood (200 connections in smoke mode) against the package and the peers behind nginx and granian.
    for server in ("apache daemon (package defaults)", "apache daemon, worker-threads = 64",
                   "nginx + gunicorn 2 sync workers", "granian 2 workers"):
        assert results[f"flood: {server}, socket errors"]["values"], server
    assert report["peers"]["gunicorn"] == "27.0.1" and "nginx/" in report["peers"]["nginx"]
    assert results["page: apache daemon (package defaults)"]["median"] > 0
    # The one figure that is a promise rather than a measurement:
    assert results["files rewritten by no-op: djangowsgi"]["values"] == [0]
    assert "page: apache daemon (package defaults)" in stdout  # the table was printed


def test_edge_benchmark_smoke_run(tmp_path):
    stdout, report = smoke_run("edge.py", tmp_path)
    results = report["results"]
    for server in ("edge", "previous"):
        for target in ("slow headers", "slow bodies", "flood", "bytes", "static req/s"):
            assert results[server][target], (server, target)
    assert "slow headers: probes answered 200" in stdout  # the table was printed


def test_tuning_benchmark_smoke_run(tmp_path):
    stdout, report = smoke_run("tuning.py", tmp_path)
    for shape in ("2 x 3", "2 x 6", "nginx + gunicorn 2 sync workers", "granian 2 workers"):
        assert report["daemons"][shape]["page"] and report["daemons"][shape]["waiting"], shape
    assert report["mpm"]["4 x 640, factor 2"]["flood requests"]
    assert report["cost"]["generated"]["apache us"]
    assert "event MPM, 2000 connections" in stdout  # the table was printed


def test_front_door_benchmark_smoke_run(tmp_path):
    stdout, report = smoke_run("front.py", tmp_path)
    rows = report["rows"]
    for shape in ("defaults", "daemon", "cpu", "embedded", "embedded4"):
        for row in (f"page: apache {shape} alone", f"page: balancer -> apache {shape}",
                    f"page waiting 5 ms: balancer -> apache {shape}"):
            assert rows[row]["median"] > 0, row
    for row in ("page: balancer (threads 2) -> apache embedded", "static: balancer cache -> apache embedded",
                "static: nginx /static/", "memory after the flood: balancer -> apache embedded",
                "memory after the flood: nginx + gunicorn 2 sync workers", "page: granian 2 workers"):
        assert rows[row]["median"] > 0, row
    assert rows["flood: balancer -> apache embedded, socket errors"]["values"]
    assert "static from the balancer's cache / nginx" in report["ratios"]
    assert "page through the balancer" in stdout  # the ratios were printed


def test_deploy_benchmark_smoke_run():
    """One round of bench/deploy.py: three sshd hosts, a first deploy, one with
    nothing changed, --force, and --force with parallel = 3."""
    result = subprocess.run([sys.executable, str(REPO / "bench" / "deploy.py"), "--smoke"], capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(re.search(r"^\{$.*?^\}$", result.stdout, re.M | re.S).group(0))
    for step in ("buildout_preparing_shipment", "first", "unchanged", "forced", "forced_parallel_3"):
        assert summary[step]["runs_s"], step
