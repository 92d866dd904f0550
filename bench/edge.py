"""The production edge: the example served by the package's defaults against the
same server with the previous version's defaults, under slow clients, a
flood, and for compressed static files. In one run, on loopback only, every
attack bounded in time.

    python bench/edge.py            the full run (about eight minutes)
    python bench/edge.py --smoke    a few seconds per target (run by make test)

"Previous defaults" are approximated with options: no mod_reqtimeout, 400
workers like Apache's stock event MPM (in 2 processes of 200 threads, all started
at once, where the stock MPM starts 3 of 25), a listen backlog of 511 (stock),
no compression, no Cache-Control, no body limit, and one daemon group for every
request (no group of its own for requests with a body).
"""
import argparse
import datetime
import json
import os
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

PORTS = {"edge": 18011, "previous": 18012}
PREVIOUS = """request-read-timeout = off
workers = 400
listen-backlog = 511
compress = false
static-max-age = 0
hashed-max-age = 0
max-body-size = 0
body-processes = 0
"""
PROBE_FROM = "127.0.0.2"  # the attacker is 127.0.0.1


def build_site(venv):
    return bench.build_site(venv, "edge-site", [(name, port, PREVIOUS if name == "previous" else "")
                                                for name, port in PORTS.items()])


# -- clients ------------------------------------------------------------------------

def probe(port, seconds, interval=1.0):
    """A normal client from PROBE_FROM, once a ``interval``: [(status, latency)]."""
    results = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(PROBE_FROM, 0)) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                head = s.recv(64)
            status = int(head.split()[1]) if head.startswith(b"HTTP/") else "no answer"
        except OSError as e:
            status = type(e).__name__
        results.append((status, time.monotonic() - started))
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return results


def trickle(port, connections, seconds, first, then, interval):
    """``connections`` clients that send ``first`` and then ``then`` every
    ``interval`` s, for ``seconds``. Returns how many the server closed."""
    selector = selectors.DefaultSelector()
    open_ = set()
    for _ in range(connections):
        try:
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(first)
        except OSError:
            continue
        client.setblocking(False)
        selector.register(client, selectors.EVENT_READ)
        open_.add(client)
    opened, closed = len(open_), 0
    deadline, next_send = time.monotonic() + seconds, time.monotonic() + interval
    while time.monotonic() < deadline and open_:
        for key, _ in selector.select(timeout=0.2):
            try:
                key.fileobj.recv(4096)
            except OSError:
                pass
            selector.unregister(key.fileobj)
            open_.discard(key.fileobj)
            key.fileobj.close()
            closed += 1
        if time.monotonic() >= next_send:
            next_send += interval
            for client in list(open_):
                try:
                    client.send(then)
                except OSError:
                    selector.unregister(client)
                    open_.discard(client)
                    client.close()
                    closed += 1
    for client in open_:
        client.close()
    return dict(opened=opened, closed_by_server=closed)


def under_attack(port, attack, seconds):
    """Probes once a second while ``attack`` runs."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(attack()))
    thread.start()
    time.sleep(1)
    probes = probe(port, seconds - 2)
    thread.join()
    latencies = sorted(latency for _, latency in probes)
    return dict(outcome, probes=len(probes), ok=sum(1 for status, _ in probes if status == 200),
                p50=statistics.median(latencies), p99=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
                statuses=sorted({str(status) for status, _ in probes}))


def slow_headers(port, connections, seconds):
    return under_attack(port, lambda: trickle(port, connections, seconds, b"GET / HTTP/1.1\r\nHost: localhost\r\n",
                                              b"X-Slow: 1\r\n", 5), seconds)


def slow_bodies(port, connections, seconds):
    head = (b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\n")
    return under_attack(port, lambda: trickle(port, connections, seconds, head, b"a", 1), seconds)


def wire_bytes(port, path, encoding):
    command = ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", f"http://127.0.0.1:{port}{path}"]
    if encoding:
        command[1:1] = ["-H", f"Accept-Encoding: {encoding}"]
    return int(subprocess.run(command, capture_output=True, text=True).stdout)


def static_rate(port, path, seconds, encoding):
    command = ["wrk", "-t2", "-c20", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"]
    if encoding:
        command[1:1] = ["-H", f"Accept-Encoding: {encoding}"]
    out = subprocess.run(command, capture_output=True, text=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def measure(smoke):
    scale = dict(header_connections=100 if smoke else 1000, body_connections=50 if smoke else 300,
                 attack_seconds=8 if smoke else 60, flood_connections=200 if smoke else 2000,
                 flood_seconds=2 if smoke else 10, rate_seconds=2 if smoke else 10)
    bench.WORK.mkdir(parents=True, exist_ok=True)
    os.chmod(bench.WORK, 0o755)
    venv = bench.make_venv()
    print("Building the example with the package's defaults and with the previous ones", flush=True)
    site = build_site(venv)
    results = {}
    for name, port in PORTS.items():
        with _server(site, name, port):
            print(f"{name}: slow headers", flush=True)
            bench.settle(port)
            entry = results[name] = {}
            entry["slow headers"] = slow_headers(port, scale["header_connections"], scale["attack_seconds"])
            bench.settle(port)
            print(f"{name}: slow bodies", flush=True)
            entry["slow bodies"] = slow_bodies(port, scale["body_connections"], scale["attack_seconds"])
            bench.settle(port)
            print(f"{name}: flood", flush=True)
            entry["flood"] = bench.flood(port, scale["flood_connections"], scale["flood_seconds"])
            bench.settle(port)
            css, js = "/static/admin/css/base.css", "/static/admin/js/core.js"
            entry["bytes"] = {path: {enc or "identity": wire_bytes(port, path, enc) for enc in ("", "gzip", "br")}
                              for path in (css, js)}
            entry["static req/s"] = {enc or "identity": static_rate(port, css, scale["rate_seconds"], enc)
                                     for enc in ("", "gzip, br")}
    return results, scale


def _server(site, name, port):
    ctl = site / "bin" / name
    return bench.Server(name, lambda: bench.run(ctl, "start", stdout=subprocess.DEVNULL),
                        lambda: bench.run(ctl, "stop", stdout=subprocess.DEVNULL), port)


def table(results):
    lines = [f"{'target':42} {'package defaults':>24} {'previous defaults':>24}"]

    def row(label, value):
        lines.append(f"{label:42} {value(results['edge']):>24} {value(results['previous']):>24}")
    for attack in ("slow headers", "slow bodies"):
        row(f"{attack}: probes answered 200", lambda r, a=attack: f"{r[a]['ok']}/{r[a]['probes']}")
        row(f"{attack}: probe p50 / p99 (s)", lambda r, a=attack: f"{r[a]['p50']:.3f} / {r[a]['p99']:.3f}")
        row(f"{attack}: closed by the server", lambda r, a=attack: f"{r[a]['closed_by_server']}/{r[a]['opened']}")
    row("flood: requests", lambda r: str(r["flood"]["requests"]))
    row("flood: socket errors", lambda r: f"{r['flood']['socket_errors']} "
        f"({100 * r['flood']['socket_errors'] / max(1, r['flood']['requests']):.2f}%)")
    row("flood: timeouts", lambda r: str(r["flood"]["timeouts"]))
    for path in results["edge"]["bytes"]:
        row(f"bytes {path.rsplit('/', 1)[1]} identity/gzip/br",
            lambda r, p=path: "/".join(str(v) for v in r["bytes"][p].values()))
    row("static req/s identity / compressed",
        lambda r: f"{r['static req/s']['identity']:.0f} / {r['static req/s']['gzip, br']:.0f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds per target")
    parser.add_argument("--output", type=Path, default=bench.REPO / "bench" / "results")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))  # for 2000 connections
    results, scale = measure(args.smoke)
    text = table(results)
    print("\n" + text)
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.output / f"{'smoke-' if args.smoke else ''}edge-{stamp}.json"
    path.write_text(json.dumps(dict(when=stamp, smoke=args.smoke, scale=scale, cpus=os.cpu_count(),
                                    previous_defaults=PREVIOUS, results=results, table=text), indent=2) + "\n")
    print(f"\nWritten to {path}")


if __name__ == "__main__":
    main()
