"""The directories the mod_wsgi daemon writes, given to its account.

Called as root by bin/buildout and by bin/<apache part> start, graceful and
reload: files that root's management commands made meanwhile (``bin/django
migrate`` creating the SQLite database) become the daemon's before it serves.
Symbolic links are neither followed nor changed.
"""
import grp
import os
import pwd


def give(paths, user, group):
    uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    for top in paths:
        if not os.path.isdir(top):
            continue
        _own(top, uid, gid)
        for root, directories, files in os.walk(top):
            for name in directories + files:
                _own(os.path.join(root, name), uid, gid)


def _own(path, uid, gid):
    st = os.lstat(path)
    if (st.st_uid, st.st_gid) != (uid, gid) and not os.path.islink(path):
        os.chown(path, uid, gid, follow_symlinks=False)
