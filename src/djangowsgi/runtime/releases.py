"""Building a release on one host and putting it live there: what it lacks is
shipped, the checkout unpacked and linked to the shared state, bin/buildout run;
then before-switch, the switch of ``current``, the reload, the health check, the
workers restarted onto the release and the jobs' timers on or off."""
import concurrent.futures
import os
import time

from djangowsgi.runtime import shipping
from djangowsgi.runtime.hosts import BUILT_WITH, CONTENT, DEPLOYED, StepFailed, gerund, in_threads, q, release_names

class Layout:
    """What a host has, read in one command: its release, its Python, its shared eggs,
    wheels and buildout virtualenv."""

    def __init__(self, config, host):
        self.venv = f"{host.base}/shared/buildout/{shipping.venv_key(config)}"
        self.eggs = f"{host.base}/shared/eggs" + (f"/{config.eggs_subdirectory}"
                                                  if config.eggs_subdirectory else "")
        self.wheels = f"{host.base}/shared/wheels"
        self.develop = f"{host.base}/shared/develop"
        if host.dry_run:  # a host with nothing yet, and the Python the eggs need
            self.content = self.current = None
            self.python = f"{config.python_version} {config.platform}"
            self.develop_here, self.eggs_here, self.wheels_here, self.has_venv = set(), set(), set(), False
            return
        probe = ("import sys, sysconfig; print('%d.%d' % sys.version_info[:2], sysconfig.get_platform())")
        out = host.run("look at the host", "; echo ---; ".join([
            f"readlink {q(host.base + '/current')}",
            f"{q(config.python)} -c {q(probe)} || echo missing",
            f"ls -1 {q(self.eggs)} 2>/dev/null",
            f"ls -1 {q(self.wheels)} 2>/dev/null",
            f"test -e {q(self.venv + '/.complete')} && echo yes",
            f"ls -1 {q(self.develop)} 2>/dev/null",
            f"test -e {q(host.base + '/current/' + DEPLOYED)} && cat {q(host.base + '/current/' + CONTENT)}",
        ]) + "; true")
        current, python, eggs, wheels, venv, develop, content = (
            part.strip() for part in (out + "\n").split("---\n"))
        self.content = content or None  # of the current release, if it went live
        self.develop_here = set(develop.split())
        self.current = os.path.basename(current) or None
        self.python = python
        self.eggs_here, self.wheels_here = set(eggs.split()), set(wheels.split())
        self.has_venv = venv == "yes"


class Shipment:
    """What one host lacks: (name, archive) of eggs and develop eggs, wheel files."""

    def __init__(self, eggs, develop, wheels):
        self.eggs, self.develop, self.wheels = eggs, develop, wheels


def shipment(config, facts, layout):
    """What ``layout``'s host lacks, packed here (once for all hosts) before any build starts."""
    develop = [(name, archive) for name, archive in facts.outside_develop.values()
               if name not in layout.develop_here]
    if not config.ship_eggs:
        return Shipment([], develop, [])
    eggs = [(egg, shipping.egg_archive(config, egg)) for egg in config.shipped_eggs
            if egg not in layout.eggs_here]
    wheels = [] if layout.has_venv else [w for w in shipping.local_wheels(config)
                                         if os.path.basename(w) not in layout.wheels_here]
    return Shipment(eggs, develop, wheels)


def build(config, facts, host, layout, release, archive, shipped):
    """The release built on ``host``, not yet live; None, or the StepFailed (and the
    release removed)."""
    base = host.base
    rel = f"{base}/releases/{release}"
    incoming = f".incoming-{os.getpid()}"
    try:
        host.say(f"on {layout.current or 'no release yet'}; uploading {release}")
        if config.ship_eggs:
            check_python(config, host, layout)
        shared = [f"{base}/shared/{d}" for d in ["eggs", "downloads", "buildout"] + config.shared_directories]
        host.run("prepare directories", "mkdir -p " + " ".join(q(p) for p in [
            f"{base}/releases", rel, *shared, f"{layout.eggs}/{incoming}", f"{layout.develop}/{incoming}",
            layout.wheels]))
        if shipped.eggs:
            host.say(f"shipping {len(shipped.eggs)} egg(s): {', '.join(name for name, _ in shipped.eggs)}")
        if shipped.develop:
            host.say(f"shipping develop egg(s) {', '.join(name for name, _ in shipped.develop)}")
        for wheel in shipped.wheels:
            host.upload(wheel, f"{layout.wheels}/{os.path.basename(wheel)}", "ship wheels")
        # The virtualenv needs only the wheels: it is made while the rest goes up.
        with concurrent.futures.ThreadPoolExecutor(1) as background:
            venv = background.submit(make_buildout_venv, config, host, layout) if not layout.has_venv else None
            try:
                for name, egg in shipped.eggs:
                    host.upload(egg, f"{layout.eggs}/{incoming}/{name}.tar.gz", "ship eggs")
                for name, tree in shipped.develop:
                    host.upload(tree, f"{layout.develop}/{incoming}/{name}.tar.gz", "ship develop eggs")
                host.upload(archive, f"{rel}.tar.gz")
                host.run("unpack the release", " && ".join([
                    unpack_command(layout.eggs, incoming, [name for name, _ in shipped.eggs]),
                    unpack_command(layout.develop, incoming, [name for name, _ in shipped.develop]),
                    f"tar -xzf {q(rel + '.tar.gz')} -C {q(rel)} && rm -f {q(rel + '.tar.gz')}",
                    f"echo {q(config.djangowsgi_version)} > {q(rel + '/' + BUILT_WITH)}",
                    *link_commands(config, base, rel)]))
            finally:
                if venv:
                    venv.result()
        run_buildout(config, facts, host, layout, rel)
    except StepFailed as e:
        host.say(e.message if e.lost else f"FAILED: {e}")
        if e.lost:
            return e  # the next deploy or status that reaches the host removes what is left
        try:  # a release that never went live is of no use to anyone
            host.run("clean up", f"rm -rf {q(rel)} {q(rel + '.tar.gz')} {q(layout.eggs + '/' + incoming)} "
                                 f"{q(layout.develop + '/' + incoming)}")
        except StepFailed:
            pass
        return e
    return None


def check_python(config, host, layout):
    """Shipped eggs run only on the Python and platform they were built for."""
    if layout.python == "missing" or not layout.python:
        raise StepFailed("check the host's Python", f"{config.python} does not run on {host.name}")
    version, platform = layout.python.split()
    if (version, platform) != (config.python_version, config.platform):
        raise StepFailed("check the host's Python",
                         f"{config.python} on {host.name} is Python {version} on {platform}, but the eggs "
                         f"shipped from here are for Python {config.python_version} on {config.platform}: "
                         f"deploy from a machine like the hosts, or set ship-eggs = false so that the hosts "
                         f"fetch their own")


def unpack_command(directory, incoming, names):
    """Each uploaded ``incoming/<name>.tar.gz`` unpacked and moved to ``directory/<name>``
    whole: a half-unpacked one never appears under its name."""
    loop = (f"for name in {' '.join(q(n) for n in names)}; do tar -xzf \"$name.tar.gz\" && "
            f"rm -f \"$name.tar.gz\" && {{ test -e ../\"$name\" || mv \"$name\" ../; }} || exit 1; done && "
            if names else "")
    return f"( cd {q(directory + '/' + incoming)} && {loop}cd .. && rm -rf {q(incoming)} )"


def link_commands(config, base, rel):
    links = []
    for name in config.shared_directories + config.shared_files:
        target = f"{base}/shared/{name}"
        links.append(f"( test -e {q(target)} || {{ echo 'missing {target}' >&2; exit 1; }}; "
                     f"mkdir -p {q(os.path.dirname(rel + '/' + name))} && rm -rf {q(rel + '/' + name)} && "
                     f"ln -s {q(target)} {q(rel + '/' + name)} )")
    return links


def make_buildout_venv(config, host, layout):
    """The virtualenv that runs bin/buildout, shared by every release with the same
    versions. From shipped pure-Python wheels, it is made without pip: the wheels
    are unpacked into its site-packages (installing a wheel is that) and bin/buildout
    written (0.8 s here, where making it with pip took 7-9 s); with pip otherwise."""
    host.say(f"making {layout.venv}")
    venv, python = q(layout.venv), q(config.python)
    wheels = shipping.local_wheels(config) if config.ship_eggs else []
    if wheels and shipping.purelib_wheels(wheels):
        script = f"#!{layout.venv}/bin/python\nimport sys\nfrom zc.buildout.buildout import main\nsys.exit(main())\n"
        site = f"$({venv}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])')"
        make = (f"{python} -m venv --without-pip {venv} && site={site} && for wheel in "
                + " ".join(q(f"{layout.wheels}/{os.path.basename(w)}") for w in wheels)
                + f"; do {venv}/bin/python -m zipfile -e \"$wheel\" \"$site\" || exit 1; done && "
                f"printf %s {q(script)} > {venv}/bin/buildout && chmod 755 {venv}/bin/buildout")
    else:
        source = f"--no-index --find-links {q(layout.wheels)} " if config.ship_eggs else ""
        requirements = " ".join(q(r) for r in config.buildout_requirements)
        make = (f"{python} -m venv {venv} && "
                f"{venv}/bin/pip install -q --disable-pip-version-check {source}{requirements}")
    host.run("make the buildout virtualenv", f"rm -rf {venv} && {make} && touch {venv}/.complete")


def run_buildout(config, facts, host, layout, rel):
    host.say("running bin/buildout")
    started = time.monotonic()
    base = host.base
    settings = [f"buildout:eggs-directory={base}/shared/eggs", f"buildout:download-cache={base}/shared/downloads"]
    # What runs from the release later (Apache, the workers' supervisor, the timers) reaches it through current.
    for part in [config.apache_part] * bool(config.apache_part) + config.worker_parts + config.jobs_parts:
        settings.append(f"{part}:served-from={base}/current")
    environment = ""
    if config.ship_eggs:
        # Nothing may come from an index: a missing egg fails the build, loudly.
        settings.append(f"buildout:index=file://{layout.wheels}")
        environment = "PIP_NO_INDEX=1 PIP_NO_BUILD_ISOLATION=0 "
    develop = facts.outside_develop
    if develop:  # the paths outside the checkout, as shipped
        settings.append("buildout:develop=" + " ".join(
            f"{layout.develop}/{develop[path][0]}" if path in develop else path for path in config.develop))
    settings += [setting.replace("{host}", host.name) for setting in config.host_settings]
    host.run("run bin/buildout", f"cd {q(rel)} && {environment}{q(layout.venv + '/bin/buildout')} -N "
                                 f"-c {q(config.buildout_config)} " + " ".join(q(s) for s in settings),
             progress=True)
    host.say(f"built in {time.monotonic() - started:.1f} s")


def remove_release(config, hosts, release):
    """``release``, built and never switched to, removed from ``hosts``."""
    def remove(host):
        try:
            host.run("clean up", f"rm -rf {q(host.base + '/releases/' + release)}")
        except StepFailed as e:
            host.say(f"FAILED: {e}")
    in_threads(remove, hosts, min(len(hosts), config.build_parallel))


def go_live(config, facts, host, previous, release):
    """before-switch, the switch, the reload and the health check: (ok, what the host is on now)."""
    rel = f"{host.base}/releases/{release}"
    try:
        for command in config.before_switch:
            host.say(f"running {command}")
            host.run("before-switch", f"cd {q(rel)} && {command}")
    except StepFailed as e:
        host.say(e.message if e.lost else f"FAILED: {e}")
        if not e.lost:
            remove_release(config, [host], release)
        return False, e.outcome(previous)
    web = "web" in config.roles_of(host.spec)
    settled = False
    try:
        host.switch(release)
        host.say(f"switched current to {release}")
        if config.reload and web:
            host.in_current("reload", config.reload)
        for command in config.after_switch:
            host.say(f"running {command}")
            host.in_current("after-switch", command)
        if web and not host.healthy():
            raise StepFailed("pass the health check", f"{config.health_url.replace('{host}', host.name)} "
                                                      f"did not answer 200 within {config.health_timeout} s")
        if config.health_url and web:
            host.say("healthy")
        settled = True
        settle_workers(config, host)
        names = host.run("mark the release", f"echo {q(facts.content)} > {q(rel + '/' + CONTENT)} && "
                                             f"touch {q(rel + '/' + DEPLOYED)} && ls -1 {q(host.base + '/releases')}")
        prune(config, host, release_names(names), release, previous)
        return True, f"on {release}"
    except StepFailed as e:
        if e.lost:
            host.say(e.message)
            return False, (f"lost the connection while {gerund(e.step)}, after the switch to {release} began: "
                           f"current may point at {release} (it was on {previous or 'no release'}); "
                           f"run bin/deploy status")
        host.say(f"FAILED: {e}")
        if not previous:
            return False, f"FAILED to {e.step}, on {release} (no earlier release to go back to)"
        try:
            host.switch(previous)
            if config.reload and web:
                host.in_current("reload", config.reload)
            if settled:
                settle_workers(config, host)
            host.say(f"rolled back to {previous}")
            return False, f"FAILED to {e.step}, rolled back to {previous}"
        except StepFailed as again:
            return False, f"FAILED to {e.step}, and rolling back failed too: {again}; release unknown"


def settle_workers(config, host):
    """After a switch, what the host's roles say of the release now current: its workers
    restarted onto it (a warm shutdown of the old ones: a task in progress finishes on
    the old code) or stopped; the jobs' timers enabled on the jobs host, disabled elsewhere."""
    roles = config.roles_of(host.spec)
    for part in config.worker_parts:
        if "workers" in roles:
            host.say(f"restarting the workers of [{part}] on the new release (warm shutdown of the old ones)")
            said = host.in_current("restart the workers", in_release(config, part, "restart"))
            host.say((said.strip().splitlines() or ["restarted"])[-1])
        else:
            host.in_current("stop the workers", f"test ! -x bin/{q(part)} || bin/{q(part)} stop")
    jobs_host = config.jobs_host()
    for part in config.jobs_parts:
        if "jobs" in roles:
            host.in_current("enable the jobs", in_release(config, part, "enable"))
            host.say(f"the timers of [{part}] run its jobs on this host")
        else:
            why = f"bin/{config.part} gives the jobs role to {jobs_host}" if jobs_host else "no host has the jobs role"
            host.in_current("disable the jobs", in_release(config, part, f"disable {q(why)}"))


def in_release(config, part, arguments):
    """bin/<part> ``arguments``, or a line that says why the release has no bin/<part>."""
    script = q(f"bin/{part}")
    missing = q(f"{script} is not in the release: add [{part}] to the parts of {config.buildout_config}, or "
                f"take it out of this buildout's parts")
    return f"{{ test -x {script} || {{ echo {missing} >&2; exit 1; }}; }} && {script} {arguments}"


def prune(config, host, names, current, previous):
    keep = set(names[-config.keep_releases:]) | {current, previous}
    doomed = [n for n in names if n not in keep]
    if doomed:
        host.run("prune", "rm -rf " + " ".join(q(f"{host.base}/releases/{n}") for n in doomed))
        host.say(f"removed {len(doomed)} old release(s)")


def remove_unfinished(host, current, remove=True):
    """Releases that never went live (no ``.deployed`` mark) and are not ``current``,
    and uploads left half-way: what a deploy that lost its connection or was
    interrupted left behind. A deploy removes them when it looks at the host,
    before it makes its own release; ``status`` (``remove=False``) only names
    them: it may run while a deploy builds, and must not take that release."""
    if host.dry_run:
        return
    base = host.base
    out = host.run("look for unfinished releases", (
        f"cd {q(base + '/releases')} 2>/dev/null || exit 0; "
        f"for r in *; do case $r in *.tar.gz) echo $r; continue;; esac; "
        f"test -d \"$r\" && ! test -e \"$r/{DEPLOYED}\" && echo $r; done; true"))
    doomed = [name for name in out.split() if name != current and name.rsplit(".tar.gz", 1)[0] != current]
    if not doomed:
        return
    if not remove:
        host.say(f"{len(doomed)} release(s) that never went live: {', '.join(doomed)} "
                 f"(the next deploy removes them)")
        return
    host.run("remove unfinished releases", "rm -rf " + " ".join(q(f"{base}/releases/{n}") for n in doomed)
             + f" {q(base + '/shared/eggs')}/.incoming-* {q(base + '/shared/eggs')}/*/.incoming-*"
             + f" {q(base + '/shared/develop')}/.incoming-*")
    host.say(f"removed {len(doomed)} release(s) that never went live: {', '.join(doomed)}")
