"""Recipe ``djangowsgi:deploy``: bin/<part>, rolling deploys of the buildout with Fabric."""
import os
import re
import sys
import sysconfig

import djangowsgi
from djangowsgi import eggs, render
from djangowsgi.runtime.files import write_if_changed
from djangowsgi.options import PartOptions, ReadFirst
from djangowsgi.runtime import shipping
from djangowsgi.runtime.deploy_config import ROLES, DeployConfig

HOST = re.compile(r"(?:(?P<user>[A-Za-z_][A-Za-z0-9_.-]*)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])"
                  r"(?::(?P<port>\d+))?\Z")
RELATIVE_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*\Z")
HOST_SETTING = re.compile(r"[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+=.*\Z")
# What runs bin/buildout on a host, installed from wheels of these exact versions.
BUILDOUT_DISTRIBUTIONS = ("zc.buildout", "zc.recipe.egg")


class Recipe(ReadFirst):
    def _read(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        part = self.part = PartOptions(buildout, name, options)
        self.hosts = [self._host(line) for line in part.lines("hosts")]
        if not self.hosts:
            raise part.error("hosts", "is required: [user@]host[:port], one a line")
        self.path = self._host_placeholder("path", part.absolute_path("path", required=True))
        self.python = part.absolute_path("python", "/usr/bin/python3")
        self.buildout_config = self._relative_name("buildout-config", part.get("buildout-config", "buildout.cfg"))
        self.parallel = part.integer("parallel", 1, 1)
        self.build_parallel = part.integer("build-parallel", 10, 1)
        self.health_url = part.get("health-url")
        if self.health_url:
            if not re.match(r"https?://", self.health_url):
                raise part.error("health-url", f"{self.health_url!r} is not an http:// or https:// URL")
            self._host_placeholder("health-url", self.health_url)
        self.health_timeout = part.integer("health-timeout", 30, 1)
        self.keep_releases = part.integer("keep-releases", 5, 1)
        self.before_switch = part.lines("before-switch")
        self.release_step = part.lines("release-step")
        self.after_switch = part.lines("after-switch")
        self.apache_part = self._part_of("djangowsgi:apache")
        self.worker_parts = self._parts_of("djangowsgi:worker")
        self.jobs_parts = self._parts_of("djangowsgi:jobs")
        self.roles = self._roles(part.lines("roles"))
        django_part = self._part_of("djangowsgi:django")
        # bin/<its control-script> on the hosts tells where their settings keep the site's data.
        self.django_script = (buildout[django_part].get("control-script") or django_part) if django_part else ""
        self.data_on_each_host = part.boolean("data-on-each-host", False)
        server_name = buildout[self.apache_part].get("server-name", "") if self.apache_part else ""
        self.health_host = part.get("health-host", "" if "*" in server_name else server_name)
        self.reload = part.get("reload", f"bin/{self.apache_part} reload" if self.apache_part else "")
        self.identity_file = part.absolute_path("identity-file")
        self.known_hosts = part.absolute_path("known-hosts", os.path.expanduser("~/.ssh/known_hosts"))
        self.accept_new_host_keys = part.boolean("accept-new-host-keys", False)
        self.shared_directories = [self._relative_name("shared-directories", d)
                                   for d in part.lines("shared-directories") or ["var"]]
        self.shared_files = [self._relative_name("shared-files", f) for f in part.lines("shared-files")]
        self.host_settings = [self._host_setting(line) for line in part.lines("host-settings")]
        self.ship_eggs = part.boolean("ship-eggs", True)
        self.script = os.path.join(buildout["buildout"]["bin-directory"], name)
        self.deploy_eggs = part.lines("eggs") or ["fabric"]
        self.balancer = part.absolute_path("balancer") or ""
        self.balancer_host = part.get("balancer-host", "")
        if self.balancer_host:
            self._host(self.balancer_host, "balancer-host")
            if not self.balancer:
                raise part.error("balancer-host", "needs balancer: the path of bin/<balancer part> there")

    def setup(self):
        """The eggs bin/<part> runs on and those it ships (zc.recipe.egg)."""
        buildout = self.buildout
        self.options["script"] = self.script
        self.paths = eggs.python_path(buildout, self.name, self.options, self.deploy_eggs)
        self.eggs_directory = os.path.realpath(buildout["buildout"]["eggs-directory"])
        self.develop = self._develop()
        self.shipped = eggs.shipped_eggs(buildout, self.name, self.deploy_eggs) if self.ship_eggs else []

    def _develop(self):
        """buildout's develop paths, relative to the checkout; those outside it
        (``../djangowsgi``) absolute, to be shipped (they must be git checkouts)."""
        checkout = os.path.realpath(self.buildout["buildout"]["directory"])
        paths = []
        for line in self.buildout["buildout"].get("develop", "").split():
            path = os.path.realpath(os.path.join(checkout, line))
            inside = path == checkout or path.startswith(checkout + os.sep)
            paths.append(os.path.relpath(path, checkout) if inside else path)
        return paths

    def _host_setting(self, line):
        if not HOST_SETTING.match(line):
            raise self.part.error("host-settings", f"{line!r} is not section:option=value")
        return self._host_placeholder("host-settings", line)

    def _host_placeholder(self, key, value):
        """``value``, which may name each host as {host} and hold no other placeholder."""
        leftover = value.replace("{host}", "")
        if "{" in leftover or "}" in leftover:
            raise self.part.error(key, "may hold {host} and no other placeholder")
        return value

    def _host(self, line, key="hosts"):
        match = HOST.match(line)
        if not match:
            raise self.part.error(key, f"{line!r} is not [user@]host[:port]")
        port = int(match.group("port") or 22)
        if not 1 <= port <= 65535:
            raise self.part.error(key, f"port {port} in {line!r} is outside 1-65535")
        return line

    def _relative_name(self, key, value):
        if not RELATIVE_NAME.match(value) or ".." in value.split("/"):
            raise self.part.error(key, f"{value!r} is not a path inside the checkout")
        return value

    def _part_of(self, recipe):
        """The part in parts that ``recipe`` makes (djangowsgi:apache), if any."""
        return (self._parts_of(recipe) or [None])[0]

    def _parts_of(self, recipe):
        return [name for name in self.buildout["buildout"].get("parts", "").split()
                if name != self.name and self.buildout[name].get("recipe") == recipe]

    def _roles(self, lines):
        """Each host's roles: ``HOST = ROLE ...`` lines; a host not named serves the web
        site and runs the workers; the jobs run on one host, the first unless a line says."""
        named = {}
        for line in lines:
            spec, equals, roles = (each.strip() for each in line.partition("="))
            if not equals or not roles.split():
                raise self.part.error("roles", f"{line!r} is not HOST = ROLE ... (roles: {', '.join(ROLES)})")
            if spec not in self.hosts:
                raise self.part.error("roles", f"{spec!r} is not one of hosts (write it as hosts does)")
            if spec in named:
                raise self.part.error("roles", f"{spec} is named twice")
            unknown = [role for role in roles.split() if role not in ROLES]
            if unknown:
                raise self.part.error("roles", f"{unknown[0]!r} ({spec}) is not a role: {', '.join(ROLES)}")
            named[spec] = sorted(set(roles.split()), key=ROLES.index)
        roles = {spec: named.get(spec, ["web", "workers"]) for spec in self.hosts}
        if not any("jobs" in each for each in named.values()):
            roles[self.hosts[0]] = sorted(set(roles[self.hosts[0]]) | {"jobs"}, key=ROLES.index)
        jobs = [spec for spec, each in roles.items() if "jobs" in each]
        if len(jobs) > 1:
            raise self.part.error("roles", f"jobs is given to {', '.join(jobs)}: give it to one host, so that each "
                                           f"job runs once")
        if self.apache_part and not any("web" in each for each in roles.values()):
            raise self.part.error("roles", f"no host has the web role: nothing would serve [{self.apache_part}]")
        return roles

    def check_balancer(self):
        """At install: the balancer part (built before this one) has written its bin/<part>."""
        if self.balancer and not self.balancer_host and not os.access(self.balancer, os.X_OK):
            raise self.part.error("balancer", f"{self.balancer} is not a control script on this machine (the "
                                              f"balancer part's bin/<part>, e.g. ${{balancer:script}}; on another "
                                              f"machine, give balancer-host too)")

    def install(self):
        self.check_balancer()
        config = DeployConfig(
            part=self.name,
            checkout=self.buildout["buildout"]["directory"],
            hosts=self.hosts,
            path=self.path,
            python=self.python,
            buildout_config=self.buildout_config,
            apache_part=self.apache_part,
            buildout_requirements=eggs.pinned_closure(BUILDOUT_DISTRIBUTIONS),
            ship_eggs=self.ship_eggs,
            eggs_directory=self.eggs_directory,
            eggs_subdirectory=self.buildout["buildout"].get("eggs-directory-version", ""),
            shipped_eggs=self.shipped,
            python_version="%d.%d" % sys.version_info[:2],
            platform=sysconfig.get_platform(),
            host_settings=self.host_settings,
            develop=self.develop,
            work_directory=os.path.join(self.buildout["buildout"]["parts-directory"], self.name),
            parallel=self.parallel,
            build_parallel=self.build_parallel,
            health_url=self.health_url,
            health_timeout=self.health_timeout,
            health_host=self.health_host,
            keep_releases=self.keep_releases,
            before_switch=self.before_switch,
            after_switch=self.after_switch,
            reload=self.reload,
            identity_file=self.identity_file,
            known_hosts=self.known_hosts,
            accept_new_host_keys=self.accept_new_host_keys,
            shared_directories=self.shared_directories,
            shared_files=self.shared_files,
            djangowsgi_version=djangowsgi.__version__,
            balancer=self.balancer,
            balancer_host=self.balancer_host,
            release_step=self.release_step,
            django_script=self.django_script,
            data_on_each_host=self.data_on_each_host,
            roles=self.roles,
            worker_parts=self.worker_parts,
            jobs_parts=self.jobs_parts,
        )
        try:  # here, where an index is at hand, so that bin/deploy only uploads
            shipping.prepare(config)
        except (OSError, RuntimeError) as e:
            raise self.part.error("ship-eggs", f"could not prepare the eggs and wheels to ship: {e} "
                                               f"(ship-eggs = false lets the hosts fetch their own)") from None
        content = render.template(
            "deploy.in",
            python=sys.executable,
            part=self.name,
            python_path=render.python_path(self.paths, self.script),
            import_djangowsgi=render.import_djangowsgi(),
            config=render.python_value(config.to_script()),
        )
        write_if_changed(self.script, content, mode=0o755)
        return [self.script]

    update = install
