"""What this machine has, probed once when buildout reads an apache part: Apache,
its modules, mod_wsgi and the Python it embeds, rotatelogs, the accounts, the
CPUs and the Python running buildout. Reading a site takes a Machine, so that
a unit test can hand it one made on the spot."""
import grp
import os
import pwd
import sys
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

from djangowsgi import system


class NoAccount(LookupError):
    def __init__(self, kind, name):
        super().__init__(f"no {kind} {name!r} on this machine")
        self.kind = kind


class Account(NamedTuple):
    uid: int
    gid: int  # the primary group's


class Accounts:
    """The accounts as the system's name service gives them, one name at a time
    (listing every user would miss those of a directory that does not enumerate)."""

    def user(self, name):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return Account(entry.pw_uid, entry.pw_gid)

    def group(self, name):
        """The gid of group ``name``, or None."""
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            return None

    def group_name(self, gid):
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return None

    def memberships(self, user):
        """The gids of the groups that list ``user`` as a member."""
        return {entry.gr_gid for entry in grp.getgrall() if user in entry.gr_mem}


@dataclass(frozen=True)
class Machine:
    apache: Optional[str]  # the httpd binary, None when there is none
    modules_directory: str
    mod_wsgi: str  # where mod_wsgi would be (it may be missing)
    mod_wsgi_python: Optional[tuple]  # (version, prefix or None) that mod_wsgi embeds, None if unknown
    rotatelogs: Optional[str]
    modules: frozenset  # names of the modules in modules_directory ("brotli", ...)
    cpus: int
    euid: int
    login: str  # the account running buildout
    python: str  # the Python running buildout (sys.executable)
    python_prefix: str  # its sys.prefix: the default python-home
    apache_confdir: str  # the system Apache's ($APACHE_CONFDIR or /etc/apache2)
    accounts: Accounts = field(default_factory=Accounts)

    @classmethod
    def probe(cls):
        modules = system.find_modules_directory()
        mod_wsgi = system.find_mod_wsgi(modules)
        try:
            names = os.listdir(modules)
        except OSError:
            names = []
        return cls(
            apache=system.find_apache(),
            modules_directory=modules,
            mod_wsgi=mod_wsgi,
            mod_wsgi_python=system.mod_wsgi_python(mod_wsgi) if os.path.exists(mod_wsgi) else None,
            rotatelogs=system.find_rotatelogs(),
            modules=module_names(names),
            cpus=os.cpu_count() or 2,
            euid=os.geteuid(),
            login=pwd.getpwuid(os.geteuid()).pw_name,
            python=sys.executable,
            python_prefix=sys.prefix,
            apache_confdir=os.environ.get("APACHE_CONFDIR") or "/etc/apache2",
        )

    def default_user(self):
        """The user running buildout; when that is root, www-data (or nobody)."""
        if self.euid != 0:
            return self.login
        return next((name for name in ("www-data", "apache") if self.accounts.user(name)), "nobody")

    def primary_group(self, user):
        account = self.accounts.user(user)
        return (self.accounts.group_name(account.gid) if account else None) or user

    def account(self, user, group):
        """(uid, gids) of user and group; NoAccount says which does not exist."""
        account = self.accounts.user(user)
        if account is None:
            raise NoAccount("user", user)
        gid = self.accounts.group(group)
        if gid is None:
            raise NoAccount("group", group)
        return account.uid, {gid, account.gid} | self.accounts.memberships(user)

    def mod_wsgi_embeds(self, mod_wsgi):
        """The Python that a mod_wsgi module embeds: this machine's as probed, another's read now."""
        return self.mod_wsgi_python if mod_wsgi == self.mod_wsgi else system.mod_wsgi_python(mod_wsgi)

    def has_module(self, modules_directory, name):
        if modules_directory == self.modules_directory:
            return name in self.modules
        return os.path.exists(os.path.join(modules_directory, f"mod_{name}.so"))


def module_names(file_names):
    return frozenset(name[4:-3] for name in file_names if name.startswith("mod_") and name.endswith(".so"))


@dataclass(frozen=True)
class Haproxy:
    """What this machine's HAProxy is, probed once when buildout reads a balancer part."""
    path: Optional[str]  # None when there is none
    found: bool  # path is an executable
    version: Optional[tuple]  # (major, minor)
    prometheus: bool  # built with its Prometheus exporter (USE_PROMEX)
    rotatelogs: Optional[str]
    euid: int
    python: str  # the Python running buildout, which bin/<part> runs
    accounts: Accounts = field(default_factory=Accounts)
    # https = acme: the Apache whose mod_md obtains the certificate, and its modules.
    apache: Optional[str] = None
    apache_modules: str = ""
    has_mod_md: bool = False  # mod_md and mod_ssl in apache_modules

    @classmethod
    def probe(cls, path=None):
        path = path or system.find_program("haproxy", ("/usr/sbin", "/usr/local/sbin"))
        found = bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)
        version, prometheus = system.haproxy_build(path) if found else (None, False)
        modules = system.find_modules_directory()
        return cls(path=path, found=found, version=version, prometheus=prometheus, rotatelogs=system.find_rotatelogs(),
                   euid=os.geteuid(), python=sys.executable, apache=system.find_apache(), apache_modules=modules,
                   has_mod_md=all(os.path.exists(os.path.join(modules, f"mod_{m}.so")) for m in ("md", "ssl")))

    def default_user(self):
        """The account an Apache started by root runs as: www-data (or nobody); else the caller's."""
        if self.euid != 0:
            return pwd.getpwuid(self.euid).pw_name
        return next((name for name in ("www-data", "apache") if self.accounts.user(name)), "nobody")

    def primary_group(self, user):
        account = self.accounts.user(user)
        return (self.accounts.group_name(account.gid) if account else None) or user
