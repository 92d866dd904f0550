"""bin/<deploy part>: rolling deploys of the buildout to many hosts, over SSH
with Fabric. The command line and the commands other than ``deploy``; the
deploy itself is in rollout.py, a release on one host in releases.py, the SSH
side in hosts.py."""
import argparse
import signal
import sys

from djangowsgi.runtime.deploy_config import DeployConfig
from djangowsgi.runtime.front_door import FrontDoor
from djangowsgi.runtime.hosts import Host, StepFailed, in_threads, q, say
from djangowsgi.runtime.releases import remove_unfinished, settle_workers
from djangowsgi.runtime.rollout import deploy


def main(config, argv):
    try:
        config = DeployConfig.from_script(config)
    except ValueError as e:  # written by a newer release
        sys.stderr.write(f"{e}\n")
        return 2
    parser = argparse.ArgumentParser(prog=f"bin/{config.part}", description="Deploy this buildout with Fabric.")
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_parser = commands.add_parser("deploy", help="build a new release on each host and switch to it")
    deploy_parser.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    deploy_parser.add_argument("--force", action="store_true",
                               help="build a new release even on hosts already on this one's content")
    rollback_parser = commands.add_parser("rollback", help="put each host back on its previous release")
    commands.add_parser("status", help="each host's current release and health")
    commands.add_parser("releases", help="the releases kept on each host")
    for sub in (deploy_parser, rollback_parser):
        sub.add_argument("--hosts", nargs="+", metavar="HOST", help="only these hosts (as written in buildout.cfg)")
    args = parser.parse_args(argv)
    hosts = config.hosts
    if getattr(args, "hosts", None):
        unknown = [h for h in args.hosts if h not in hosts]
        if unknown:
            parser.error(f"not in the part's hosts: {', '.join(unknown)}")
        hosts = [h for h in hosts if h in args.hosts]
    if args.command == "deploy":
        # A terminal closed or a kill: the same as Ctrl-C, a summary and every host left as a lost
        # connection would leave it.
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)
        code = deploy(config, hosts, args.dry_run, args.force)
        return 128 + _signalled[0] if code == 130 and _signalled else code
    try:
        if args.command == "rollback":
            return rollback(config, hosts)
        if args.command == "status":
            return status(config, hosts)
    except StepFailed as e:  # the balancer could not be reached
        say("balancer", f"FAILED: {e}; nothing was changed")
        return 1
    return releases(config, hosts)


_signalled = []


def _interrupt(number, frame):
    _signalled.append(number)
    raise KeyboardInterrupt


def for_each_host(config, specs, action, host_kind=Host):
    return in_threads(lambda spec: _guarded(config, spec, action, host_kind), specs, min(len(specs), 8))


def _guarded(config, spec, action, host_kind):
    host = host_kind(spec, config)
    try:
        host.connect()
        return action(host)
    except StepFailed as e:
        say(spec, f"FAILED: {e}" + ("; release unknown" if e.step == "connect" else ""))
        return False
    finally:
        host.close()


def rollback(config, specs, host_kind=Host, front=None):
    """Each host back on its previous release, ``parallel`` at a time; behind a
    balancer, drained first and put back once healthy."""
    front = front or _front_door(config)

    def action(host):
        current = host.current()
        older = [n for n in host.deployed_releases() if current and n < current]
        if not older:
            say(host.spec, f"on {current or 'no release'}: no earlier release to go back to")
            return False
        web = "web" in config.roles_of(host.spec)
        if front and web:
            front.drain(host.name)
        host.switch(older[-1])
        if config.reload and web:
            host.in_current("reload", config.reload)
        healthy = host.healthy() if web else True
        say(host.spec, f"rolled back from {current} to {older[-1]}" + ("" if healthy else ", NOT healthy"
                                                                           + (", left drained" if front else "")))
        settle_workers(config, host)  # on the release now current, healthy or not
        if healthy and front and web:
            front.ready(host.name)
        return healthy

    for start in range(0, len(specs), config.parallel):
        if not all(for_each_host(config, specs[start:start + config.parallel], action, host_kind)):
            return 1
    return 0


def status(config, specs, host_kind=Host, front=None):
    front = front or _front_door(config)
    on_balancer = {}
    if front:
        try:
            front.connect()
            for backend, (name, state) in front.servers().items():
                on_balancer.setdefault(name, []).append(state)
        except StepFailed as e:
            say(front.label, f"FAILED: {e}")
            front = None

    def action(host):
        current = host.current()
        roles = config.roles_of(host.spec)
        remove_unfinished(host, current, remove=False)
        web = "web" in roles
        healthy = (host.healthy() if web else True) if current else False
        state = "healthy" if healthy else "NOT healthy"
        built_with = f" (djangowsgi {host.built_with()})" if current else ""
        balancer = ""
        if front and web:
            balancer = f", on the balancer: {' '.join(on_balancer.get(host.name, ['not a backend']))}"
        health = (state if config.health_url else "no health-url") if web else ("on no release" if not current
                                                                                 else "not a web host")
        say(host.spec, f"current {current or '(none)'}{built_with}, {health}{balancer}{shown_roles(config, roles)}")
        # A list, not all() of a generator: every part's workers are shown, the first failing one too.
        workers_ok = all([worker_status(config, host, part, "workers" in roles) for part in config.worker_parts]) \
            if current else True
        return healthy and workers_ok
    return 0 if all(for_each_host(config, specs, action, host_kind)) else 1


def shown_roles(config, roles):
    """"; roles: web workers" where the parts give roles a meaning beyond the web site."""
    meant = {"web": bool(config.apache_part), "workers": bool(config.worker_parts), "jobs": bool(config.jobs_parts)}
    shown = [role for role in roles if meant[role]]
    return f"; roles: {' '.join(shown) or 'none'}" if config.worker_parts or config.jobs_parts else ""


def worker_status(config, host, part, expected):
    """Says what bin/<part> status says on the host; False when the workers of a host
    with the workers role are not running."""
    out = host.in_current("read the workers", f"{{ bin/{q(part)} status; echo \"exit $?\"; }} 2>&1")
    lines = out.strip().splitlines()
    running = bool(lines) and lines[-1] == "exit 0"
    for line in lines[:-1]:
        say(host.spec, f"  {line.strip()}")
    if running != expected:
        say(host.spec, f"  [{part}] " + ("NOT running, but the host has the workers role" if expected else
                                         "running on a host without the workers role"))
    return running or not expected


def _front_door(config):
    if not getattr(config, "balancer", ""):
        return None
    front = FrontDoor(config)
    front.connect()
    return front


def releases(config, specs, host_kind=Host):
    def action(host):
        current = host.current()
        names = host.release_names()
        say(host.spec, f"{len(names)} release(s)")
        for name in names:
            say(host.spec, ("* " if name == current else "  ") + name)
        return True
    return 0 if all(for_each_host(config, specs, action, host_kind)) else 1
