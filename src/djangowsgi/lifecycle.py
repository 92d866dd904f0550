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
"""
import os
import shutil

_claimed = set()


def claim(*paths):
    _claimed.update(os.path.abspath(p) for p in paths)


def remove_unclaimed(*paths):
    for path in paths:
        if not path or os.path.abspath(path) in _claimed:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
