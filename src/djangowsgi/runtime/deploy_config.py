"""What the deploy recipe tells bin/<deploy part>: one typed, versioned object,
written into the generated script as a dict (``to_script``) and rebuilt from it
(``DeployConfig.from_script``, which reads the scripts of older releases too),
and the facts a deploy learns as it runs, kept apart."""
from dataclasses import asdict, dataclass, field, fields

# 3: roles, worker and jobs parts; 2: djangowsgi_version; scripts without "config_version" are older (1).
CONFIG_VERSION = 3
ROLES = ("web", "workers", "jobs")


@dataclass(frozen=True)
class DeployConfig:
    part: str
    checkout: str  # the buildout's directory: a git checkout, shipped at HEAD
    hosts: list
    path: str  # on each host; {host} is the host's name
    python: str  # on the hosts, makes the virtualenv that runs bin/buildout
    buildout_config: str
    apache_part: str  # "" or None: no apache part to reload
    buildout_requirements: list  # zc.buildout and zc.recipe.egg, pinned (name==version)
    ship_eggs: bool
    eggs_directory: str  # here
    eggs_subdirectory: str  # zc.buildout's eggs-directory-version (v5)
    shipped_eggs: list  # egg directory names
    python_version: str  # here, which the shipped eggs need on the hosts
    platform: str
    host_settings: list
    develop: list  # buildout's develop paths: relative inside the checkout, absolute outside
    work_directory: str  # parts/<deploy part>
    parallel: int
    build_parallel: int
    health_url: str
    health_timeout: int
    health_host: str
    keep_releases: int
    before_switch: list
    after_switch: list
    reload: str
    identity_file: str
    known_hosts: str
    accept_new_host_keys: bool
    shared_directories: list
    shared_files: list
    djangowsgi_version: str = "unknown"  # of the build that wrote the script, recorded in each release
    balancer: str = ""  # bin/<balancer part> that drains each host before it changes, or ""
    balancer_host: str = ""  # [user@]host[:port] it runs on over SSH, or "" for this machine
    release_step: list = field(default_factory=list)  # once a deploy, on one host, between builds and switches
    django_script: str = ""  # the django part's bin/ script: it tells where the hosts keep the site's data
    data_on_each_host: bool = False  # several hosts, each with its own SQLite database or MEDIA_ROOT, on purpose
    roles: dict = field(default_factory=dict)  # host as written in hosts: its roles (ROLES), every host named
    worker_parts: list = field(default_factory=list)  # djangowsgi:worker parts: restarted after each switch
    jobs_parts: list = field(default_factory=list)  # djangowsgi:jobs parts: their timers run on the jobs host

    def roles_of(self, spec):
        """What ``spec`` does: as the build named it, else (a script of 0.2.0's first
        builds) the web site and the workers, and the jobs on the first host."""
        if spec in self.roles:
            return self.roles[spec]
        return ["web", "workers"] + (["jobs"] if spec == self.hosts[0] else [])

    def jobs_host(self):
        return next((spec for spec in self.hosts if "jobs" in self.roles_of(spec)), None)

    @classmethod
    def from_script(cls, values):
        """The config of a generated script, of this release or an older one
        (values it does not know are left aside)."""
        version = values.get("config_version", 1)
        if version > CONFIG_VERSION:
            raise ValueError(f"bin/deploy was written by a newer djangowsgi (config version {version}): "
                             f"run bin/buildout again")
        known = {each.name for each in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def to_script(self):
        """The dict the build writes into bin/<deploy part> (render.python_value)."""
        return {"config_version": CONFIG_VERSION, **asdict(self)}


@dataclass(frozen=True)
class Facts:
    """What one ``deploy`` learns as it runs."""
    outside_develop: dict  # develop path outside the checkout: (shipped name, archive)
    force: bool  # --force: build even where the content is the same
    content: str  # this release's content key
