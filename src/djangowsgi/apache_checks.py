"""Can this machine serve a Site as read? Its accounts, rotatelogs, the Python of
mod_wsgi, the sites already on the system Apache, and the files the daemon and
Apache must read. Checked when buildout reads the part, before it uninstalls
anything, and the files again at install. Every problem is a one-line UserError."""
import os

from djangowsgi import system
from djangowsgi.apache_defaults import DISPLAY_LIMIT
from djangowsgi.apache_site import root_user
from djangowsgi.machine import NoAccount
from djangowsgi.wsgi import script_environment_files, script_python_path


def daemon_account(site, machine, part):
    """(uid, gids) of the daemon's account."""
    try:
        uid, gids = machine.account(site.user, site.group)
    except NoAccount as e:
        raise part.error(e.kind, str(e)) from None
    if uid == 0:
        raise root_user(part, site.user)
    return uid, gids


def check_machine(site, machine, part):
    """Everything but the files that parts before this one make at install;
    ``part`` (options.PartOptions) words the errors."""
    uid, gids = daemon_account(site, machine, part)
    if site.log_rotation != "off" and not (site.rotatelogs and os.path.exists(site.rotatelogs)):
        raise part.error("rotatelogs", "no rotatelogs on this machine (Debian: apache2-utils); install it, "
                                       "or set log-rotation = off")
    if site.check:
        check_python(site, machine, part)
    if site.trusted_proxies and site.check and not machine.has_module(site.modules, "remoteip"):
        raise part.error("trusted-proxies", f"needs mod_remoteip, which is not in {site.modules}")
    # A UNIX socket path holds at most 107 bytes; mod_wsgi adds ".<pid>.u<uid>.<n>.sock".
    socket = site.served(site.socket_prefix)
    longest = len(socket.encode()) + len(f".4194304.u{uid}.999.sock")
    if longest > 107:
        raise part.error("socket-prefix", f"{socket} is too long for the daemon's socket ({longest} of at most "
                                          f"107 bytes): set a shorter socket-prefix")
    if site.system:
        check_unique_on_system(site, part)
    check_files(site, machine, part, installing=False)


def check_python(site, machine, part):
    """The most common mod_wsgi failure: a python-home of another Python."""
    if not os.path.exists(site.mod_wsgi):
        raise part.error("mod-wsgi", f"{site.mod_wsgi} does not exist: install mod_wsgi (Debian, Ubuntu: "
                                     "libapache2-mod-wsgi-py3; Fedora: python3-mod_wsgi) or set mod-wsgi "
                                     "to its path")
    if not os.path.isdir(site.python_home):
        raise part.error("python-home", f"{site.python_home} is not a directory")
    embedded = machine.mod_wsgi_embeds(site.mod_wsgi)
    home = system.python_home_python(site.python_home)
    if home is None:
        raise part.error("python-home", f"{site.python_home} is neither a virtualenv nor a Python installation")
    if embedded is None:
        return
    if home[0] != embedded[0]:
        raise part.error("python-home", f"{site.python_home} runs Python {home[0]} but {site.mod_wsgi} "
                                        f"embeds Python {embedded[0]}: build the buildout with that Python")
    if embedded[1] and home[1] and os.path.realpath(home[1]) != os.path.realpath(embedded[1]):
        raise part.error("python-home", f"{site.python_home} is made from the Python in {home[1]} but "
                                        f"{site.mod_wsgi} embeds the one in {embedded[1]}: make the "
                                        f"virtualenv with {embedded[1]}/bin/python3")


def check_unique_on_system(site, part):
    """Another site enabled on the system Apache with this process group (or
    one that ps shows as this one) would break the server or this site's reload."""
    ours = {site.layout.vhost, site.served(site.layout.vhost)}
    names = {group.name for group in site.daemon_groups}
    shown = {site.shown(group.display_name)[:DISPLAY_LIMIT] for group in site.daemon_groups}
    for path, chain, group, display in system.enabled_daemon_groups(site.confdir):
        if ours & set(chain):
            continue
        if group in names:
            raise part.error("process-group", f"{group!r} is already the process group of {path} "
                                              f"({chain[-1]}) on the system Apache: give this site a "
                                              f"process-group of its own")
        if display and display[:DISPLAY_LIMIT] in shown:
            raise part.error("display-name", f"{display!r} is already how ps shows the daemons of {group!r} "
                                             f"({path}) on the system Apache: give this site a "
                                             f"display-name of its own")


def check_files(site, machine, part, installing):
    """Does what the daemon needs exist, and can its user read it? (A 0700 home
    directory above the buildout is the usual trap.)

    Checked when the part is read, so that bad input stops buildout before it
    uninstalls anything, and again at install, when the parts before this one
    have made their files (the WSGI script, a collectstatic directory).
    """
    uid, gids = daemon_account(site, machine, part)
    inside = os.path.join(site.layout.buildout_directory, "")
    needed = [("python-home", site.python_home)]
    for url, path in site.aliases:
        if os.path.isdir(path):
            needed.append(("aliases", path))
        elif installing or not path.startswith(inside):
            raise part.error("aliases", f"directory {path} (for {url}) does not exist")
    if os.path.exists(site.wsgi_script):
        needed.append(("wsgi-script", site.wsgi_script))
        try:
            paths = script_python_path(site.wsgi_script)
        except ValueError as e:
            raise part.error("wsgi-script", str(e)) from None
        needed += [("wsgi-script", p) for p in paths if os.path.exists(p)]
    elif installing:
        raise part.error("wsgi-script", f"{site.wsgi_script} does not exist")
    for option, path in needed:
        blocked = system.unreadable(path, uid, gids)
        if blocked:
            raise part.error(option, f"user {site.user} cannot read {path}: {blocked} is not readable "
                                     f"or enterable for it (check its mode, e.g. a 0700 home directory)")
    if site.system:
        check_apache_children_read(site, machine, part, needed)
    if os.path.exists(site.wsgi_script):
        for path in script_environment_files(site.wsgi_script):
            if system.unreadable(path, uid, gids):
                raise part.error("wsgi-script", f"user {site.user} cannot read the WSGI script's environment "
                                                f"file {path}: chgrp {site.group} {path} && chmod 0640 {path}")


def check_apache_children_read(site, machine, part, needed):
    """On the system Apache, its children (not the site's daemons) serve the
    static files and look for the WSGI script."""
    user = system.apache_envvar(site.confdir, "APACHE_RUN_USER", "www-data")
    group = system.apache_envvar(site.confdir, "APACHE_RUN_GROUP", user)
    try:
        uid, gids = machine.account(user, group)
    except NoAccount:
        return
    for option, path in needed:
        if option == "aliases" or path == site.wsgi_script:
            blocked = system.unreadable(path, uid, gids)
            if blocked:
                raise part.error(option, f"the system Apache's user {user} cannot read {path}: {blocked} "
                                         f"is not readable or enterable for it")


def check_writable(site, machine, part):
    """Can the daemon write its writable directories (when buildout does not run as root)?"""
    uid, gids = daemon_account(site, machine, part)
    for path in site.writable:
        blocked = system.unwritable(path, uid, gids)
        if blocked:
            raise part.error("writable", f"user {site.user} cannot write {path} ({blocked} is in the "
                                         f"way): run buildout as root, or chown {site.user} {path}")
