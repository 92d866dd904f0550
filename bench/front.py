"""The front door: the example behind the balancer part (HAProxy), in the Apache
shapes a site behind a balancer could take, against nginx + gunicorn and granian,
in one run, interleaved (each round measures every row once), on loopback only.

    python bench/front.py            three rounds (about fifteen minutes on 2 CPUs)
    python bench/front.py --smoke    a second a target (run by make test-bench)

Rows: each Apache shape alone and through its own balancer part (server-maxconn
= what the shape serves at once), the balancer's own settings on one shape
(threads, connection reuse, server-maxconn), and the peers. Then, for the shape
chosen, the flood through the balancer, static files from its cache against
nginx, and the memory (PSS) of each stack after the flood.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

# Apache shapes behind a balancer: (part, its options, the balancer's server-maxconn).
# server-maxconn stays below Apache's worker threads: with every worker busy, Apache
# stops accepting connections and the balancer's health checks time out (measured in
# front-20261202T021759Z, embedded with 16 of 16: the backend went DOWN under load).
SHAPES = [
    ("defaults", "", 20),  # the package's: 4 x 640 MPM threads, daemons 2 x 10
    ("mpm16x64", "workers = 1024\nworker-threads = 64", 20),  # 0.1.0's MPM: 16 x 64 threads
    ("daemon", "workers = 64\nworker-threads = 32", 20),
    ("cpu", "workers = 64\nworker-threads = 32\nworkload = cpu", 6),
    ("embedded", "mode = embedded\nworkers = 16\nworker-threads = 8", 12),
    ("embedded4", "mode = embedded\nworkers = 8\nworker-threads = 4", 6),
]
# The balancer's own settings, in front of the embedded shape: (row, options).
SETTINGS = [
    ("threads 2", "threads = 2"),
    ("http-reuse safe", "http-reuse = safe"),
    ("server-maxconn 8", "server-maxconn = 8"),
]
FIRST_PORT = 18040  # the shapes' Apaches from here, their balancers from FIRST_PORT + 20
CHOSEN = "embedded"  # measured for the flood, static files and memory
STATIC = "/static/coleman/style.css"


def balancer_part(name, port, backend_port, maxconn, extra=""):
    return bench.example.text(name, {
        "recipe": "djangowsgi:balancer", "listen": f"127.0.0.1:{port}", "server-name": "localhost",
        "backends": f"127.0.0.1:{backend_port}", "server-maxconn": str(maxconn), "stats-listen": "off",
        **dict(line.split(" = ", 1) for line in extra.splitlines() if line.strip())})


def build_site(venv):
    """The site with every shape's Apache part and the balancer parts: (site, [(part, port,
    backend port, server-maxconn, options)])."""
    parts = [(f"apache-{name}", FIRST_PORT + i, options + "\ntrusted-proxies = 127.0.0.1")
             for i, (name, options, _) in enumerate(SHAPES)]
    balancers = [(f"lb-{name}", FIRST_PORT + 20 + i, FIRST_PORT + i, maxconn, "")
                 for i, (name, _, maxconn) in enumerate(SHAPES)]
    chosen = next(i for i, (name, _, _) in enumerate(SHAPES) if name == CHOSEN)
    balancers += [(f"lb-setting{j}", FIRST_PORT + 30 + j, FIRST_PORT + chosen, SHAPES[chosen][2], options)
                  for j, (_, options) in enumerate(SETTINGS)]
    more = [(b[0], balancer_part(*b)) for b in balancers]
    return bench.build_site(venv, "front-site", parts, more), balancers


def started(site, part, port):
    ctl = site / "bin" / part
    return bench.Server(part, lambda: bench.run(ctl, "start", stdout=bench.subprocess.DEVNULL),
                        lambda: bench.run(ctl, "stop", stdout=bench.subprocess.DEVNULL), port)


class Both:
    """An Apache part and its balancer, started and stopped together."""

    def __init__(self, *servers):
        self.servers = servers
        self.port = servers[-1].port

    def __enter__(self):
        for server in self.servers:
            server.__enter__()
        return self

    def __exit__(self, *exc):
        for server in reversed(self.servers):
            server.__exit__(*exc)


def pss(kinds):
    """Proportional set size in MB of every process whose name is one of ``kinds``."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() not in kinds:
                    continue
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def measure(smoke, rounds):
    seconds = 1 if smoke else 8
    results = {}

    def record(name, value, unit, better="higher"):
        results.setdefault(name, dict(values=[], unit=unit, better=better))["values"].append(value)

    bench.WORK.mkdir(parents=True, exist_ok=True)
    os.chmod(bench.WORK, 0o755)
    venv = bench.make_venv()
    print("Building the example with the shapes and their balancers", flush=True)
    site, balancers = build_site(venv)
    workers = 2
    peers = {name: server for name, server, _ in bench.peer_servers(site, venv, workers)}
    nginx = next(server for name, server in peers.items() if name.startswith("nginx + gunicorn")
                 and "no access" not in name)
    granian = next(server for name, server in peers.items() if name.startswith("granian"))
    flood_clients = bench.FLOOD if not smoke else bench.FLOOD // 10

    def pages(name, server):
        """Both pages' rates, and their failed requests (a fast 503 would count in a rate)."""
        with server:
            for row, path in ((f"page: {name}", "/"), (f"page waiting {bench.WAIT_MS} ms: {name}",
                                                      f"/waiting/?ms={bench.WAIT_MS}")):
                load = bench.wrk(server.port, path, seconds)
                record(row, load["rate"], "req/s")
                record(f"failed, {row}", load["failed"], "requests", "lower")

    for n in range(rounds):
        print(f"Round {n + 1} of {rounds}", flush=True)
        for i, (name, _, _) in enumerate(SHAPES):
            apache = started(site, f"apache-{name}", FIRST_PORT + i)
            pages(f"apache {name} alone", apache)
            lb, port = balancers[i][0], balancers[i][1]
            pages(f"balancer -> apache {name}", Both(started(site, f"apache-{name}", FIRST_PORT + i),
                                                      started(site, lb, port)))
        chosen = next(i for i, (name, _, _) in enumerate(SHAPES) if name == CHOSEN)
        for j, (row, _) in enumerate(SETTINGS):
            lb, port = balancers[len(SHAPES) + j][0], balancers[len(SHAPES) + j][1]
            pages(f"balancer ({row}) -> apache {CHOSEN}",
                  Both(started(site, f"apache-{CHOSEN}", FIRST_PORT + chosen), started(site, lb, port)))
        pages("nginx + gunicorn 2 sync workers", nginx)
        pages("granian 2 workers", granian)

        front = Both(started(site, f"apache-{CHOSEN}", FIRST_PORT + chosen),
                     started(site, balancers[chosen][0], balancers[chosen][1]))
        with front:
            record(f"static: balancer cache -> apache {CHOSEN}", bench.wrk(front.port, STATIC, seconds)["rate"],
                   "req/s")
            bench.settle(front.port)
            found = bench.flood(front.port, flood_clients, seconds + 2)
            record(f"flood: balancer -> apache {CHOSEN}, socket errors",
                   100 * found["socket_errors"] / max(1, found["requests"]), "%", "lower")
            record(f"flood: balancer -> apache {CHOSEN}, timeouts", found["timeouts"], "requests", "lower")
            record(f"memory after the flood: balancer -> apache {CHOSEN}", pss({"haproxy", "apache2"}), "MB", "lower")
        for name, server, kinds in (("nginx + gunicorn 2 sync workers", nginx, {"nginx", "gunicorn"}),
                                    ("granian 2 workers", granian, {"granian"})):
            with server:
                if server is nginx:
                    record("static: nginx /static/", bench.wrk(server.port, STATIC, seconds)["rate"], "req/s")
                bench.settle(server.port)
                found = bench.flood(server.port, flood_clients, seconds + 2)
                record(f"flood: {name}, socket errors", 100 * found["socket_errors"] / max(1, found["requests"]),
                       "%", "lower")
                record(f"flood: {name}, timeouts", found["timeouts"], "requests", "lower")
                record(f"memory after the flood: {name}", pss(kinds), "MB", "lower")
    return results


def summarize(results):
    rows = {}
    for name, found in results.items():
        values = found["values"]
        rows[name] = dict(median=statistics.median(values), min=min(values), max=max(values), unit=found["unit"],
                          better=found["better"], values=values)
    return rows


def ratios(rows):
    """The issue's targets, each a ratio in this run."""
    def m(name):
        return rows[name]["median"] if name in rows else None
    peer_page = max(filter(None, (m("page: nginx + gunicorn 2 sync workers"), m("page: granian 2 workers"))))
    peer_wait = max(filter(None, (m(f"page waiting {bench.WAIT_MS} ms: nginx + gunicorn 2 sync workers"),
                                  m(f"page waiting {bench.WAIT_MS} ms: granian 2 workers"))))
    found = {}
    for name, _, _ in SHAPES:
        through = m(f"page: balancer -> apache {name}")
        found[f"page through the balancer, apache {name} / best peer"] = through / peer_page
        found[f"page waiting, apache {name} through the balancer / best peer"] = (
            m(f"page waiting {bench.WAIT_MS} ms: balancer -> apache {name}") / peer_wait)
        found[f"balancer overhead on the page, apache {name} (through / alone)"] = (
            through / m(f"page: apache {name} alone"))
    found["static from the balancer's cache / nginx"] = (m(f"static: balancer cache -> apache {CHOSEN}")
                                                          / m("static: nginx /static/"))
    found["memory after the flood / nginx + gunicorn"] = (m(f"memory after the flood: balancer -> apache {CHOSEN}")
                                                           / m("memory after the flood: nginx + gunicorn 2 sync workers"))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=bench.REPO / "bench" / "results",
                        help="where the report goes (smoke-*.json in smoke mode)")
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    started_at = time.time()
    rows = summarize(measure(args.smoke, rounds))
    found = ratios(rows)
    width = max(len(name) for name in rows)
    for name, row in rows.items():
        print(f"{name:<{width}}  {row['median']:>10.2f} {row['unit']:<8} ({row['min']:.2f}-{row['max']:.2f})")
    print()
    for name, value in found.items():
        print(f"{name}: {value:.2f}x")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.output / f"{'smoke' if args.smoke else 'front'}-{stamp}.json"
    out.write_text(json.dumps(dict(
        run=stamp, machine=dict(cpus=os.cpu_count(), platform=platform.platform()), rounds=rounds,
        seconds=round(time.time() - started_at), rows=rows, ratios=found), indent=1) + "\n")
    print(f"Written: {out}")


if __name__ == "__main__":
    main()
