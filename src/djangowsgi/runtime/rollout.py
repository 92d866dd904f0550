"""A deploy across the hosts: the checkout packed, every host looked at, the
release built on every host that needs it, then switched ``parallel`` at a time."""
import concurrent.futures
import dataclasses
import datetime
import hashlib
import json
import os
import subprocess
import tempfile

from djangowsgi.runtime import shipping
from djangowsgi.runtime.deploy_config import Facts
from djangowsgi.runtime.front_door import FrontDoor
from djangowsgi.runtime.hosts import DryRunHost, Host, StepFailed, close_every_connection, gerund, in_threads, q, say
from djangowsgi.runtime.releases import Layout, build, go_live, remove_release, remove_unfinished, shipment


def package(config):
    """The tracked files of the checkout at HEAD (git archive), and its revision."""
    checkout = config.checkout
    try:
        revision = subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit(f"{checkout} is not a git checkout with a commit: deploy ships the tracked files at HEAD")
    dirty = subprocess.run(["git", "-C", checkout, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        print("Note: uncommitted changes are not deployed; deploying HEAD", revision)
    archive = tempfile.NamedTemporaryFile(prefix="djangowsgi-", suffix=".tar.gz", delete=False)
    archive.close()
    subprocess.run(["git", "-C", checkout, "archive", "--format=tar.gz", "-o", archive.name, "HEAD"], check=True)
    return archive.name, revision


def deploy(config, specs, dry_run=False, force=False):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
    archive, revision = package(config)
    release = f"{stamp}-{revision}"
    host_kind = Host
    if dry_run:
        print(f"Dry run: the steps of deploying {release} to hosts that have nothing yet, one host at a time "
              f"(a deploy builds on {config.build_parallel} and switches {config.parallel} at a time). "
              f"Nothing is done on any host.")
        config = dataclasses.replace(config, build_parallel=1, parallel=1)
        host_kind = DryRunHost
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as background:
            packed = background.submit(shipping.prepare, config)  # done by bin/buildout, unless cleaned
            outside_develop = shipping.outside_develop(config)
            facts = Facts(outside_develop=outside_develop, force=force, content=content_key(config, outside_develop))
            hosts = {spec: host_kind(spec, config) for spec in specs}
            front = FrontDoor(config, dry_run) if config.balancer else None
            progress = Progress()
            try:
                code = rollout(config, facts, specs, hosts, release, archive, packed, progress, front)
                if dry_run:
                    print("Dry run: nothing was done on any host.")
                return code
            except KeyboardInterrupt:
                close_every_connection()
                print(f"\nInterrupted while deploying {release}.")
                return summary(specs, progress.interrupted(hosts, release),
                               "Interrupted: a release left half-made is removed by the next deploy or "
                               "status that reaches its host.") and 130
            finally:
                for host in hosts.values():
                    host.close()
                if front:
                    front.close()
    finally:
        os.unlink(archive)


def content_key(config, outside_develop):
    """What a release is made of: the checkout's tree at HEAD, the develop eggs'
    trees and everything the recipe passes to the hosts' buildout. A host whose
    current release has the same key needs no new one."""
    tree = subprocess.run(["git", "-C", config.checkout, "rev-parse", "HEAD^{tree}"], capture_output=True,
                          text=True, check=True).stdout.strip()
    inputs = [tree, config.buildout_config, config.apache_part or "", *config.buildout_requirements,
              *config.shipped_eggs, *config.host_settings, *config.develop,
              *(name for name, _ in outside_develop.values()), *config.before_switch, *config.release_step,
              *config.worker_parts, *config.jobs_parts,
              *(f"{spec}={' '.join(config.roles_of(spec))}" for spec in config.hosts)]
    return hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]


class Progress:
    """Where each host is in a rollout, for the summary of one that is interrupted:
    the release it was on, and the line of each host whose part is over."""

    def __init__(self):
        self.previous = {}
        self.outcome = {}
        self.release_step = None  # what it said, once it ran

    def interrupted(self, hosts, release):
        lines = {}
        for spec, host in hosts.items():
            previous = self.previous.get(spec, "unknown")
            if spec in self.outcome:
                lines[spec] = self.outcome[spec]
            elif host.switching:
                lines[spec] = (f"interrupted after the switch to {release} began: current may point at "
                               f"{release} (it was on {previous}); run bin/deploy status")
            else:
                lines[spec] = f"interrupted while {gerund(host.doing)}, still on {previous}"
        return lines


def rollout(config, facts, specs, hosts, release, archive, packed, progress, front=None):
    """Every host looked at first (all reachable, the balancer too, or nothing
    changes); the release built on every host that needs it, ``build-parallel`` at
    a time (a failure anywhere, and none is switched); then switched ``parallel``
    at a time, each group drained on the balancer first and put back once healthy,
    stopping at the first group with a failure."""
    looked = dict(zip(specs, in_threads(lambda spec: look(config, hosts[spec]), specs, len(specs))))
    unreachable = {spec: e for spec, e in looked.items() if isinstance(e, StepFailed)}
    progress.previous.update((spec, layout.current or "no release") for spec, layout in looked.items()
                             if spec not in unreachable)
    outcome = {}
    for spec, layout in looked.items():
        if spec in unreachable:
            outcome[spec] = f"FAILED: {unreachable[spec].message}; release unknown"
        else:
            outcome[spec] = f"not reached, still on {layout.current or 'no release'}"
    if unreachable:
        print(f"Not deploying release {release}: {len(unreachable)} host(s) could not be looked at.")
        return summary(specs, outcome, "Nothing was changed on any host.")
    if front:
        problem = look_at_balancer(front, [hosts[spec] for spec in specs if "web" in config.roles_of(spec)])
        if problem:
            print(f"Not deploying release {release}: {problem}.")
            return summary(specs, outcome, "Nothing was changed on any host.")
    building = []
    for spec in specs:
        layout = looked[spec]
        if layout.current and layout.content == facts.content and not facts.force:
            say(spec, f"on {layout.current}, which has this release's content: nothing to do "
                      f"(--force builds it anew)")
            outcome[spec] = progress.outcome[spec] = f"on {layout.current} (unchanged)"
        else:
            building.append(spec)
    if not building:
        return summary(specs, outcome)
    try:
        packed.result()
    except (OSError, RuntimeError) as e:
        print(f"Not deploying release {release}: could not prepare the eggs and wheels to ship: {e}")
        return summary(specs, outcome, "Nothing was changed on any host.")
    shipments = {spec: shipment(config, facts, looked[spec]) for spec in building}
    print(f"Building release {release} on {len(building)} host(s), {config.build_parallel} at a time.")
    failures = dict(zip(building, in_threads(
        lambda spec: build(config, facts, hosts[spec], looked[spec], release, archive, shipments[spec]),
        building, min(len(building), config.build_parallel))))
    if any(failures.values()):
        for spec in building:
            previous = looked[spec].current
            outcome[spec] = (failures[spec].outcome(previous) if failures[spec]
                             else f"not switched, still on {previous or 'no release'}")
        remove_release(config, [hosts[spec] for spec in building if not failures[spec]], release)
        return summary(specs, outcome, "Nothing was switched: the release did not build on every host.")
    problem = data_on_each_host(config, hosts[building[0]], release)
    if problem:
        print(f"Not deploying release {release}: {problem}")
        for spec in building:
            outcome[spec] = f"not switched, still on {looked[spec].current or 'no release'}"
        remove_release(config, [hosts[spec] for spec in building], release)
        return summary(specs, outcome, "Nothing was switched.")
    if config.release_step:
        ran, said = release_step(config, hosts[building[0]], release)
        if not ran:
            for spec in building:
                outcome[spec] = f"not switched, still on {looked[spec].current or 'no release'}"
            remove_release(config, [hosts[spec] for spec in building], release)
            return summary(specs, outcome, f"Nothing was switched: {said} (on {building[0]}).")
        progress.release_step = said
    print(f"Switching {len(building)} host(s) to {release}, {config.parallel} at a time.")
    for start in range(0, len(building), config.parallel):
        group = building[start:start + config.parallel]
        results = in_threads(lambda spec: go_live(config, facts, hosts[spec], looked[spec].current, release),
                              group, len(group)) if not front else behind(front, config, facts, hosts, group, looked,
                                                                         release)
        outcome.update((spec, state) for spec, (_, state) in zip(group, results))
        progress.outcome.update((spec, state) for spec, (_, state) in zip(group, results))
        if not all(ok for ok, _ in results):
            rest = building[start + len(group):]
            for spec in rest:
                outcome[spec] = f"not switched, still on {looked[spec].current or 'no release'}"
            remove_release(config, [hosts[spec] for spec in rest], release)
            return summary(specs, outcome, "Rollout stopped: hosts not switched keep their release.",
                           release_step=progress.release_step)
    return summary(specs, outcome, release_step=progress.release_step)


SITE_DATA = """\
import json, os
from django.conf import settings
database = settings.DATABASES.get("default", {})
engine, name = database.get("ENGINE", ""), str(database.get("NAME", ""))
if engine.endswith("sqlite3") and name and not name.startswith(":"):
    name = os.path.realpath(name)
# Uploads land in MEDIA_ROOT only with the file system storage (not with S3's, say).
storage = getattr(settings, "STORAGES", {}).get("default", {}).get("BACKEND", "")
on_disk = storage.endswith("FileSystemStorage") and settings.MEDIA_ROOT
media = os.path.realpath(str(settings.MEDIA_ROOT)) if on_disk else ""
print(json.dumps({"engine": engine, "name": name, "media": media}))
"""


def data_on_each_host(config, host, release):
    """Why a deploy to several hosts would give each its own database or uploads
    (SQLite, or a MEDIA_ROOT on the host's own disk), as the new release's settings
    say on ``host``; None when they share them, or the user means it."""
    if len(config.hosts) < 2 or not config.django_script or config.data_on_each_host or host.dry_run:
        return None
    rel = f"{host.base}/releases/{release}"
    try:
        said = host.run("read where the site keeps its data",
                        f"cd {q(rel)} && bin/{q(config.django_script)} shell -c {q(SITE_DATA)}")
        data = json.loads(said.strip().splitlines()[-1])
    except StepFailed as e:
        return str(e)
    except (ValueError, IndexError):
        return f"bin/{config.django_script} shell did not say where the site keeps its data: {said.strip()[-300:]!r}"
    kept = []
    if data["engine"].endswith("sqlite3"):
        kept.append(f"its database in SQLite ({data['name']})")
    if data["media"] == host.base or data["media"].startswith(host.base.rstrip("/") + "/"):
        kept.append(f"the uploads in MEDIA_ROOT ({data['media']})")
    if not kept:
        return None
    return (f"its settings keep {' and '.join(kept)} on each of the {len(config.hosts)} hosts, so each would have "
            f"its own: use a database server the hosts share (PostgreSQL: docs/buildout.rst, \"Your database\") "
            f"and storage they share for MEDIA_ROOT, or set data-on-each-host = true in [{config.part}] if each "
            f"host is meant to keep its own")


def release_step(config, host, release):
    """The release step's commands, once, in ``release`` on ``host`` (built on every
    host, switched on none): (ran, what it said: its last lines, or why it failed)."""
    rel = f"{host.base}/releases/{release}"
    said = []
    try:
        for command in config.release_step:
            host.say(f"release step: running {command}")
            output = host.run("run the release step", f"cd {q(rel)} && {command}")
            said.append(f"{command}: " + (" | ".join(output.strip().splitlines()[-3:]) or "done"))
    except StepFailed as e:
        host.say(e.message if e.lost else f"FAILED: {e}")
        return False, e.message
    return True, f"on {host.spec}: " + "; ".join(said)


def look_at_balancer(front, hosts):
    """What keeps a deploy from going through the balancer (unreachable, a host it
    does not know), or None."""
    try:
        front.connect()
        known = {host for host, _ in front.servers().values()}
    except StepFailed as e:
        return f"the balancer on {front.where} could not be reached: {e}"
    if front.dry_run:
        return None
    missing = [host.name for host in hosts if host.name not in known]
    if missing:
        return (f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} no backend of the balancer "
                f"(its backends are on {', '.join(sorted(known)) or 'no host'})")
    return None


def behind(front, config, facts, hosts, group, looked, release):
    """go_live for a group of hosts behind the balancer: drained first, put back once
    healthy; a host that fails stays drained. [(ok, outcome)] as go_live gives them."""
    drained = []
    web = {spec for spec in group if "web" in config.roles_of(spec)}
    try:
        for spec in group:
            if spec not in web:
                continue
            front.drain(hosts[spec].name)
            drained.append(spec)
    except StepFailed as e:
        say(front.label, f"FAILED: {e}")
        for spec in drained:  # nothing of the group changes
            try:
                front.ready(hosts[spec].name)
            except StepFailed:
                pass
        return [(False, f"not switched, still on {looked[spec].current or 'no release'}: could not be drained "
                        f"({e}); see bin/deploy status") for spec in group]
    results = in_threads(lambda spec: go_live(config, facts, hosts[spec], looked[spec].current, release),
                         group, len(group))
    outcomes = []
    for spec, (ok, state) in zip(group, results):
        name = hosts[spec].name
        if spec not in web:
            outcomes.append((ok, state))
            continue
        if ok:
            try:
                front.ready(name)
            except StepFailed as e:
                say(front.label, f"FAILED: {e}")
                ok, state = False, f"{state}, but left drained: {e}"
        else:
            state += f"; left drained on the balancer ({os.path.basename(front.script)} ready {name} puts it back)"
        outcomes.append((ok, state))
    return outcomes


def look(config, host):
    try:
        host.connect()
        layout = Layout(config, host)
        remove_unfinished(host, layout.current)
        return layout
    except StepFailed as e:
        say(host.spec, f"FAILED: {e}")
        return e


def summary(specs, outcome, failure=None, release_step=None):
    print("\nSummary:")
    for spec in specs:
        print(f"  {spec}: {outcome[spec]}")
    if release_step:
        print(f"Release step {release_step}")
    if failure:
        print(failure)
        return 1
    return 0


