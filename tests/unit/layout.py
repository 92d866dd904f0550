"""What the unit tests share: the repository, the working tree's version, and a
buildout given as plain dicts (no bin/buildout runs in this layer)."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSION = re.search(r'^__version__ = "(.+)"$', (REPO / "src" / "djangowsgi" / "__init__.py").read_text(),
                    re.M).group(1)


def buildout(directory="/srv/mysite", parts="django wsgi apache", **sections):
    """The sections a recipe reads, as zc.buildout would give them."""
    return {
        "buildout": {"directory": directory, "parts-directory": f"{directory}/parts",
                     "bin-directory": f"{directory}/bin", "eggs-directory": f"{directory}/eggs",
                     "develop-eggs-directory": f"{directory}/develop-eggs", "parts": parts, "develop": "."},
        **sections,
    }


def machine(**changes):
    """A Machine as djangowsgi.machine.Machine.probe() would find a Debian one with
    Apache and mod_wsgi, made on the spot: the unit layer needs neither installed."""
    from djangowsgi.machine import Account, Machine
    values = dict(
        apache="/usr/sbin/apache2",
        modules_directory="/usr/lib/apache2/modules",
        mod_wsgi="/usr/lib/apache2/modules/mod_wsgi.so",
        mod_wsgi_python=("3.11", "/usr"),
        rotatelogs="/usr/bin/rotatelogs",
        modules=frozenset({"alias", "brotli", "md", "ssl", "http2", "wsgi"}),
        cpus=2,
        euid=0,
        login="root",
        python="/srv/mysite/venv/bin/python3",
        python_prefix="/srv/mysite/venv",
        apache_confdir="/etc/apache2",
        accounts=FixedAccounts(
            users={"root": Account(0, 0), "www-data": Account(33, 33), "mysite": Account(1001, 1001)},
            groups={"root": (0, ()), "www-data": (33, ()), "mysite": (1001, ()), "adm": (4, ("mysite",))}),
    )
    values.update(changes)
    return Machine(**values)


class FixedAccounts:
    """The accounts of a Machine made on the spot: {name: Account}, {name: (gid, members)}."""

    def __init__(self, users, groups):
        self.users, self.groups = users, groups

    def user(self, name):
        return self.users.get(name)

    def group(self, name):
        return self.groups[name][0] if name in self.groups else None

    def group_name(self, gid):
        return next((name for name, (g, _) in self.groups.items() if g == gid), None)

    def memberships(self, user):
        return {gid for gid, members in self.groups.values() if user in members}


def haproxy(**changes):
    """A machine.Haproxy as Debian 12's would be probed (2.6 with its Prometheus exporter), made on the spot."""
    from djangowsgi.machine import Account, Haproxy
    values = dict(path="/usr/sbin/haproxy", found=True, version=(2, 6), prometheus=True,
                  rotatelogs="/usr/bin/rotatelogs", euid=0, python="/srv/mysite/venv/bin/python3",
                  accounts=FixedAccounts(users={"root": Account(0, 0), "haproxy": Account(108, 115)},
                                         groups={"root": (0, ()), "haproxy": (115, ())}))
    values.update(changes)
    return Haproxy(**values)
