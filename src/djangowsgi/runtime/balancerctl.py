"""bin/<balancer part>: a self-contained HAProxy in master-worker mode, its pid
file, runtime API socket, server states and log under the buildout's var/.

A reload is hitless: the master re-executes with the new configuration, the new
worker takes the listening sockets over the API socket (expose-fd listeners)
and the old one finishes its requests. The servers' states (drained, ready) are
saved before every reload and stop and read back when HAProxy starts.
"""
import errno
import os
import shlex
import signal
import socket
import subprocess
import sys

from djangowsgi.runtime import certificate_service, haproxy_api
from djangowsgi.runtime.balancer_config import BACKEND, BalancerConfig
from djangowsgi.runtime.daemons import alive, children, running_pid, wait_for
from djangowsgi.runtime.files import write_if_changed
from djangowsgi.runtime.server import answers, raise_open_files
from djangowsgi.runtime.server import failed as server_failed

USAGE = """usage: {prog} COMMAND

  start              start HAProxy; wait until it answers
  stop               stop it: it stops listening, finishes its requests, then exits
  reload             read a changed configuration without failing a request (checked first)
  status             whether it runs, each backend's state, sessions and queue
  drain HOST         send HOST no new requests; wait until its requests have ended
  ready HOST         put HOST back into rotation (once its health check passes)
  maintenance on     answer every request 503 with the maintenance page; `off` ends it
  configtest         check haproxy.cfg
  foreground         run in the foreground, logging to stdout (systemd, supervisord)
  servers            one line a backend: name, state, sessions, queued (for scripts: bin/deploy)
  certificate-agent  (https = acme: run by the Apache that obtains the certificate)

HOST is a backend as haproxy.cfg names it (host:port), or a host: all of its backends.
"""
WAIT = 15.0
MAINTENANCE_KEY = "on"


def main(values, args):
    try:
        config = BalancerConfig.from_script(values)
    except ValueError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    command, rest = (args[0], args[1:]) if args else (None, [])
    arity = {"drain": 1, "ready": 1, "maintenance": 1}.get(command, 0)
    if command not in COMMANDS or len(rest) != arity or (command == "maintenance" and rest[0] not in ("on", "off")):
        sys.stderr.write(USAGE.format(prog=os.path.basename(sys.argv[0])))
        return 2
    return COMMANDS[command](config, *rest)


def failed(config, message, output=""):
    return server_failed(message, output, error_log=config.log)


def master_pid(config):
    return running_pid(config.pid_file)


def workers(pid):
    return set(children(pid)) if pid else set()


def assemble_certificates(config):
    """Each PEM HAProxy reads, made anew from the certificate files (renewed ones included)."""
    for cert in config.certificates:
        parts = []
        for path in (cert.certificate, cert.chain, cert.key):
            if path:
                with open(path) as f:
                    parts.append(f.read().strip() + "\n")
        write_if_changed(cert.pem, "".join(parts), mode=0o600)


def check(config):
    """haproxy -c on haproxy.cfg (and apache -t on the certificate service's
    configuration); None when they are valid, else what they said."""
    try:
        assemble_certificates(config)
    except OSError as e:
        return f"cannot read a certificate file: {e}"
    service = config.certificate_service
    if service:
        problem = certificate_service.check(service)
        if problem:
            return f"{service.config}: {problem}"
        try:
            certificate_service.prepare(service)
        except (OSError, subprocess.SubprocessError) as e:
            return f"no certificate for HAProxy to start with: {e}"
    result = subprocess.run([config.haproxy, "-c", "-q", "-f", config.config], capture_output=True, text=True)
    return (result.stdout + result.stderr).strip() or "haproxy -c failed" if result.returncode else None


def save_states(config):
    """The servers' states (drain, ready, their checks) for the next HAProxy to read."""
    try:
        text = haproxy_api.command(config.socket, f"show servers state {BACKEND}")
    except haproxy_api.ApiError:
        return
    if text.startswith("1\n"):
        write_if_changed(config.state_file, text)


def start(config):
    pid = master_pid(config)
    if pid:
        print(f"Already running (pid {pid}) at {config.url}")
        return 0
    problem = check(config)
    if problem:
        return failed(config, "haproxy.cfg does not pass haproxy -c:", problem)
    raise_open_files(2 * config.maxconn + 256)
    os.makedirs(os.path.dirname(config.log), exist_ok=True)
    problem = start_certificate_service(config)
    if problem:
        return server_failed(problem, error_log=config.certificate_service.error_log)
    if not wait_for(lambda: port_free(config.host, config.port), WAIT):
        print(f"Port {config.port} is still held by another process; HAProxy tries it anyway.")
    if config.rotatelogs:
        logger = subprocess.Popen(shlex.split(config.rotatelogs), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        output = logger.stdin
    else:
        output = open(config.log, "ab")
    subprocess.Popen([config.haproxy, "-W", "-f", config.config], stdin=subprocess.DEVNULL, stdout=output,
                     stderr=subprocess.STDOUT, start_new_session=True, cwd=config.directory)
    output.close()
    if not wait_for(lambda: master_pid(config) and answers(config) and os.path.exists(config.socket), WAIT):
        return failed(config, f"HAProxy did not come up at {config.url} within {WAIT:.0f} s.")
    print(f"Started (pid {master_pid(config)}) at {config.url}")
    if config.certificate_service:
        certificate_service.serve(config)  # one that arrived while HAProxy started
        print("\n".join(certificate_service.describe(config)))
    return 0


def port_free(host, port):
    """Can a listener bind host:port? False while another process (an Apache that is
    letting go of it, as a site moves behind the balancer) still holds it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            return e.errno != errno.EADDRINUSE  # not allowed, say: HAProxy says why
    return True


def start_certificate_service(config):
    """https = acme: the loopback Apache whose mod_md obtains and renews the certificate."""
    return config.certificate_service and certificate_service.start(config.certificate_service)


def stop(config):
    pid = master_pid(config)
    if config.certificate_service:
        certificate_service.stop(config.certificate_service)
    if not pid:
        print("Not running.")
        return 0
    save_states(config)
    os.kill(pid, signal.SIGUSR1)  # soft stop: stop listening, end the requests in progress
    if not wait_for(lambda: not alive(pid), config.stop_timeout):
        os.kill(pid, signal.SIGTERM)
        if not wait_for(lambda: not alive(pid), WAIT):
            return failed(config, f"HAProxy (pid {pid}) is still running.")
    print("Stopped.")
    return 0


def reload(config):
    pid = master_pid(config)
    if not pid:
        return start(config)
    problem = check(config)
    if problem:
        return failed(config, "The new haproxy.cfg does not pass haproxy -c; HAProxy goes on with the last one:",
                      problem)
    if config.certificate_service:
        problem = certificate_service.graceful(config.certificate_service)
        if problem:
            return failed(config, problem)
    save_states(config)
    before = workers(pid)
    os.kill(pid, signal.SIGUSR2)
    if not wait_for(lambda: workers(pid) - before and answers(config), WAIT):
        return failed(config, "HAProxy did not start a worker with the new configuration; the old one goes on.")
    print(f"Reloaded (pid {pid}, worker {', '.join(map(str, sorted(workers(pid) - before)))}); "
          f"the old worker ends once its requests have.")
    return 0


def _named(config, host):
    named = config.backends_named(host)
    if not named:
        names = ", ".join(b.name for b in config.backends)
        sys.stderr.write(f"{host!r} is no backend of this balancer (backends: {names}).\n")
    return named


def _set_state(config, named, state):
    for backend in named:
        haproxy_api.set_state(config.socket, BACKEND, backend.name, state)
    save_states(config)


def _sessions(config, names):
    return haproxy_api.sessions(config.socket, BACKEND, names)


def drain(config, host):
    named = _named(config, host)
    if not named:
        return 2
    if not master_pid(config):
        return failed(config, "HAProxy is not running.")
    try:
        _set_state(config, named, "drain")
        names = {b.name for b in named}
        drained = wait_for(lambda: not any(_sessions(config, names).values()), config.drain_timeout)
        left = _sessions(config, names)
    except haproxy_api.ApiError as e:
        return failed(config, str(e))
    if not drained:
        busy = ", ".join(f"{name} {count}" for name, count in sorted(left.items()) if count)
        print(f"Drained {', '.join(sorted(names))}: no new requests; after {config.drain_timeout} s "
              f"requests still in progress: {busy}.")
        return 1
    print(f"Drained {', '.join(sorted(names))}: no new requests, none in progress.")
    return 0


def ready(config, host):
    named = _named(config, host)
    if not named:
        return 2
    if not master_pid(config):
        return failed(config, "HAProxy is not running.")
    names = {b.name for b in named}
    try:
        _set_state(config, named, "ready")
        up = wait_for(lambda: all(state.startswith("UP") for state in _states(config, names).values()),
                      config.ready_timeout)
        states = _states(config, names)
    except haproxy_api.ApiError as e:
        return failed(config, str(e))
    if not up:
        shown = ", ".join(f"{name} {state}" for name, state in sorted(states.items()))
        print(f"Ready, but not UP after {config.ready_timeout} s (its health check fails): {shown}.")
        return 1
    print(f"Ready: {', '.join(sorted(names))} in rotation (UP).")
    return 0


def _states(config, names):
    return haproxy_api.states(config.socket, BACKEND, names)


def servers(config):
    if not master_pid(config):
        return failed(config, "HAProxy is not running.")
    try:
        rows = haproxy_api.servers(config.socket, BACKEND)
    except haproxy_api.ApiError as e:
        return failed(config, str(e))
    for row in rows:
        print(f"{row['svname']} {row['status'].replace(' ', '')} {row.get('scur') or 0} {row.get('qcur') or 0}")
    return 0


def maintenance(config, state):
    on = state == "on"
    write_if_changed(config.maintenance_map, f"{MAINTENANCE_KEY} {MAINTENANCE_KEY}\n" if on else "")
    if master_pid(config):
        try:
            haproxy_api.checked(haproxy_api.command(config.socket, f"clear map {config.maintenance_map}"))
            if on:
                haproxy_api.checked(haproxy_api.command(
                    config.socket, f"add map {config.maintenance_map} {MAINTENANCE_KEY} {MAINTENANCE_KEY}"))
        except haproxy_api.ApiError as e:
            return failed(config, str(e))
    print("Maintenance on: every request is answered 503 with the maintenance page; health checks go on."
          if on else "Maintenance off: requests go to the backends again.")
    return 0


def maintenance_on(config):
    try:
        with open(config.maintenance_map) as f:
            return bool(f.read().strip())
    except OSError:
        return False


def status(config):
    pid = master_pid(config)
    if not pid:
        print(f"Not running (would listen at {config.url}).")
        return 3
    state = "answering" if answers(config) else "NOT answering"
    print(f"Running (pid {pid}) at {config.url}, {state}."
          + (" Maintenance on: every request answered 503." if maintenance_on(config) else ""))
    try:
        rows = haproxy_api.servers(config.socket, BACKEND)
    except haproxy_api.ApiError as e:
        print(e)
        return 1
    standbys = {b.name for b in config.backends if b.standby}
    for row in rows:
        check = row.get("check_status") or "-"
        role = " (standby: up only while its Apache reloads)" if row["svname"] in standbys else ""
        print(f"  {row['svname']}: {row['status']}, {row.get('scur') or 0} session(s), "
              f"{row.get('qcur') or 0} queued, check {check}{role}")
    if config.certificate_service:
        print("\n".join(certificate_service.describe(config)))
    if config.stats_url:
        print(f"Stats page: {config.stats_url}" + (f"; Prometheus metrics: {config.metrics_url}"
                                                  if config.metrics_url else ""))
    return 0 if state == "answering" else 1


def configtest(config):
    problem = check(config)
    print(problem or "Configuration file is valid")
    return 1 if problem else 0


def foreground(config):
    problem = check(config)
    if problem:
        return failed(config, "haproxy.cfg does not pass haproxy -c:", problem)
    raise_open_files(2 * config.maxconn + 256)
    problem = start_certificate_service(config)
    if problem:
        return failed(config, problem)
    os.execv(config.haproxy, [config.haproxy, "-W", "-db", "-f", config.config])


COMMANDS = {
    "start": start,
    "stop": stop,
    "reload": reload,
    "status": status,
    "drain": drain,
    "ready": ready,
    "maintenance": maintenance,
    "configtest": configtest,
    "foreground": foreground,
    "servers": servers,
    "certificate-agent": lambda config: certificate_service.agent(config),
}
