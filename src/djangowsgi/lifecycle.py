"""The files of a part outlive a failed or changed run of buildout.

zc.buildout removes the files a part's install() returned whenever it
uninstalls the part: when the part leaves ``parts``, when its options change
(before any part is installed again), and when its update() fails. A site
being served needs its WSGI script, httpd.conf and bin/<part> through all of
that: a run that fails must leave the last good files. So these recipes return
no files to buildout. Each one claims the files its configuration writes when
buildout reads it (``claim``), which is before buildout uninstalls anything,
and its uninstall entry point removes the old files that no part claimed:
all of them when the part is gone, none when it is only being reinstalled.

Releases before 0.1.0 returned their files to buildout, which recorded them in
``.installed.cfg``. zc.buildout calls the uninstall entry point (of the release
installed now) before it removes the recorded paths, with the recorded options
themselves: ``uninstall`` takes those paths out of buildout's hands, so an
upgrade never removes a file the running server reads.
"""
import os
import shutil

_claimed = set()

RECORDED = "__buildout_installed__"  # zc.buildout's record of the files install() returned


def claim(*paths):
    _claimed.update(os.path.abspath(p) for p in paths)


def claimed(path):
    """Is ``path``, a path inside it or a path above it claimed by a part of this run?"""
    path = os.path.abspath(path)
    return any(path == c or path.startswith(c + os.sep) or c.startswith(path + os.sep) for c in _claimed)


def uninstall(options, *paths):
    """What each recipe's uninstall entry point does: remove ``paths`` and the
    paths buildout recorded for the part, unless a part claims them now."""
    recorded = options.get(RECORDED, "")
    if recorded:
        options[RECORDED] = ""  # buildout reads it back after this returns
    buildout = getattr(options, "buildout", None)
    directory = buildout["buildout"]["directory"] if buildout is not None else os.getcwd()
    remove_unclaimed(*paths, *(os.path.join(directory, p) for p in recorded.split("\n") if p.strip()))


def remove_unclaimed(*paths):
    for path in paths:
        if not path or claimed(path):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
