"""Recipe ``djangowsgi:deploy``: bin/<part>, rolling deploys of the buildout with Fabric."""
import os
import re
import sys
from importlib import metadata

import djangowsgi
from djangowsgi import eggs, render
from djangowsgi.files import write_if_changed
from djangowsgi.options import PartOptions

HOST = re.compile(r"(?:(?P<user>[A-Za-z_][A-Za-z0-9_.-]*)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])"
                  r"(?::(?P<port>\d+))?\Z")
RELATIVE_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*\Z")


class Recipe:
    def __init__(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        part = self.part = PartOptions(buildout, name, options)
        self.hosts = [self._host(line) for line in part.lines("hosts")]
        if not self.hosts:
            raise part.error("hosts", "is required: [user@]host[:port], one a line")
        self.path = part.absolute_path("path", required=True)
        if "{" in self.path.replace("{host}", "") or "}" in self.path.replace("{host}", ""):
            raise part.error("path", "may hold {host} and no other placeholder")
        self.python = part.absolute_path("python", "/usr/bin/python3")
        self.buildout_config = self._relative_name("buildout-config", part.get("buildout-config", "buildout.cfg"))
        self.parallel = part.integer("parallel", 1, 1)
        self.health_url = part.get("health-url")
        if self.health_url:
            if not re.match(r"https?://", self.health_url):
                raise part.error("health-url", f"{self.health_url!r} is not an http:// or https:// URL")
            leftover = self.health_url.replace("{host}", "")
            if "{" in leftover or "}" in leftover:
                raise part.error("health-url", "may hold {host} and no other placeholder")
        self.health_timeout = part.integer("health-timeout", 30, 1)
        self.keep_releases = part.integer("keep-releases", 5, 1)
        self.before_switch = part.lines("before-switch")
        self.after_switch = part.lines("after-switch")
        self.apache_part = self._apache_part()
        self.reload = part.get("reload", f"bin/{self.apache_part} reload" if self.apache_part else "")
        self.identity_file = part.absolute_path("identity-file")
        self.known_hosts = part.absolute_path("known-hosts", os.path.expanduser("~/.ssh/known_hosts"))
        self.accept_new_host_keys = part.boolean("accept-new-host-keys", False)
        self.shared_directories = [self._relative_name("shared-directories", d)
                                   for d in part.lines("shared-directories") or ["var"]]
        self.shared_files = [self._relative_name("shared-files", f) for f in part.lines("shared-files")]
        self.script = os.path.join(buildout["buildout"]["bin-directory"], name)
        options["script"] = self.script
        self.paths = eggs.python_path(buildout, name, options, part.lines("eggs") or ["fabric"])

    def _host(self, line):
        match = HOST.match(line)
        if not match:
            raise self.part.error("hosts", f"{line!r} is not [user@]host[:port]")
        port = int(match.group("port") or 22)
        if not 1 <= port <= 65535:
            raise self.part.error("hosts", f"port {port} in {line!r} is outside 1-65535")
        return line

    def _relative_name(self, key, value):
        if not RELATIVE_NAME.match(value) or ".." in value.split("/"):
            raise self.part.error(key, f"{value!r} is not a path inside the checkout")
        return value

    def _apache_part(self):
        """The djangowsgi:apache part in parts, if any."""
        for name in self.buildout["buildout"].get("parts", "").split():
            if name != self.name and self.buildout[name].get("recipe") == "djangowsgi:apache":
                return name
        return None

    def install(self):
        config = dict(
            part=self.name,
            checkout=self.buildout["buildout"]["directory"],
            hosts=self.hosts,
            path=self.path,
            python=self.python,
            buildout_config=self.buildout_config,
            apache_part=self.apache_part,
            buildout_requirements=[f"zc.buildout=={metadata.version('zc.buildout')}",
                                   f"zc.recipe.egg=={metadata.version('zc.recipe.egg')}"],
            parallel=self.parallel,
            health_url=self.health_url,
            health_timeout=self.health_timeout,
            keep_releases=self.keep_releases,
            before_switch=self.before_switch,
            after_switch=self.after_switch,
            reload=self.reload,
            identity_file=self.identity_file,
            known_hosts=self.known_hosts,
            accept_new_host_keys=self.accept_new_host_keys,
            shared_directories=self.shared_directories,
            shared_files=self.shared_files,
        )
        package = os.path.dirname(os.path.dirname(os.path.abspath(djangowsgi.__file__)))
        content = render.template(
            "deploy.in",
            python=sys.executable,
            part=self.name,
            python_path=render.python_path(self.paths + [package], self.script),
            config=render.python_value(config),
        )
        write_if_changed(self.script, content, mode=0o755)
        return [self.script]

    update = install
