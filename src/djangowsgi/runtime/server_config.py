"""What the apache recipe tells bin/<part>: one typed, versioned object, written
into the generated script as a dict (``to_script``) and rebuilt from it
(``ServerConfig.from_script``), which also reads the dicts that older releases
wrote: a checkout upgraded in place runs the new runtime under the old script
until buildout writes the new one."""
import dataclasses
import os
from dataclasses import dataclass, field

# 2: written by 0.2.0. Scripts without "config_version" are 0.1.0's (1) or,
# without "groups", 0.1.0.dev0's (0).
CONFIG_VERSION = 2


@dataclass(frozen=True)
class DaemonGroup:
    name: str
    processes: int
    display_name: str  # as ps shows it, before mod_wsgi cuts it


@dataclass(frozen=True)
class Standby:
    """The balancer in front of this Apache on one host, and the standby Apache that
    takes the traffic while this one restarts with a new configuration."""
    config: str  # standby-httpd.conf
    pid_file: str
    run_directory: str
    error_log: str
    url: str
    host: str
    port: int
    balancer_socket: str  # the balancer's runtime API
    backend: str  # this Apache's server name on the balancer
    standby_backend: str
    drain_timeout: int = 30


@dataclass(frozen=True)
class ServerConfig:
    server: str  # "self-contained" or "system"
    directory: str  # the buildout's
    httpd: str
    config: str  # httpd.conf (self-contained)
    pid_file: str
    error_log: str
    url: str
    host: str
    port: int
    groups: tuple  # of DaemonGroup
    mode: str  # "daemon" or "embedded"
    processes: int  # of every group; 0 in embedded mode
    graceful_timeout: int
    run_directory: str
    config_directory: str  # parts/<part>: httpd.conf and what lies beside it
    writable: tuple = ()
    user: str = ""
    group: str = ""
    # (name, value) that httpd runs with: in embedded mode the site's locale, which
    # mod_wsgi sets for each daemon in daemon mode (lang, locale).
    environment: tuple = ()
    status_url: str = None  # mod_status on the loopback listener (self-contained)
    md_status_url: str = None
    managed_domains: tuple = ()  # https = acme
    certificate_authority: str = None
    # server = system
    confdir: str = ""
    site: str = ""  # the name of the site on the system Apache (its process group)
    server_name: str = ""
    vhost: str = ""
    server_conf: str = ""
    modules: tuple = ()  # what a2enmod enables
    certificate_scripts: tuple = ()
    scripts_directory: str = ""
    standby: Standby = None  # behind a balancer on one host (balancer option)
    version: int = field(default=CONFIG_VERSION)

    @property
    def system(self):
        return self.server == "system"

    @classmethod
    def from_script(cls, values):
        """The config of a generated script, of this release or an older one."""
        values = dict(values)
        version = values.pop("config_version", None)
        if version is None:
            version = 1 if "groups" in values else 0
        if version > CONFIG_VERSION:
            raise ValueError(f"bin/<part> was written by a newer djangowsgi (config version {version}): "
                             f"run bin/buildout again")
        if version == 0:  # one daemon group, no run or config directory of its own
            values.update(
                server="self-contained",
                groups=[dict(name=values["process_group"], processes=values["processes"],
                             display_name=values["display_name"])],
                run_directory=os.path.dirname(values["pid_file"]),
                config_directory=os.path.dirname(values["config"]),
            )
        known = {f.name for f in dataclasses.fields(cls)} - {"version"}
        values = {key: value for key, value in values.items() if key in known}
        values["groups"] = tuple(DaemonGroup(**group) for group in values["groups"])
        if values.get("standby"):
            values["standby"] = Standby(**values["standby"])
        for key in ("writable", "managed_domains", "modules", "certificate_scripts"):
            values[key] = tuple(values.get(key) or ())
        values["environment"] = tuple(tuple(pair) for pair in values.get("environment") or ())
        return cls(version=version, **values)

    def to_script(self):
        """The dict the build writes into bin/<part> (render.python_value)."""
        values = {"config_version": CONFIG_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "version" or (f.name in SYSTEM_ONLY and not self.system):
                continue
            if f.name == "standby" and value is None:
                continue
            if f.name == "groups":
                value = [dataclasses.asdict(group) for group in value]
            elif f.name == "standby":
                value = dataclasses.asdict(value)
            elif f.name == "environment":
                value = [list(pair) for pair in value]
            elif isinstance(value, tuple):
                value = list(value)
            values[f.name] = value
        return values

    def seen_from(self, old, new):
        """This config with every path under ``old`` moved under ``new`` (see server.as_called)."""
        old = old.rstrip("/") + "/"

        def moved(value):
            if isinstance(value, str) and value.startswith(old):
                return new + "/" + value[len(old):]
            if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                return tuple(moved(v) for v in value)
            return value
        changes = {f.name: moved(getattr(self, f.name)) for f in dataclasses.fields(self)
                   if f.name not in ("groups", "url", "status_url", "md_status_url", "certificate_authority",
                                     "standby")}
        if self.standby:
            changes["standby"] = dataclasses.replace(self.standby, **{
                f.name: moved(getattr(self.standby, f.name)) for f in dataclasses.fields(self.standby)
                if f.name not in ("url", "balancer_socket")})
        return dataclasses.replace(self, **changes)


SYSTEM_ONLY = ("confdir", "site", "server_name", "vhost", "server_conf", "modules", "certificate_scripts",
               "scripts_directory")
