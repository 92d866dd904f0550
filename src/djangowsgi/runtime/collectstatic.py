"""collectstatic that never changes a file under a running site.

Run at build time by the ``djangowsgi:django`` recipe, inside the project's own
Python (the manage script's sys.path and environment). Django's collectstatic
writes into STATIC_ROOT in place, and ManifestStaticFilesStorage deletes and
re-creates each hashed file on every run: a server reading them meanwhile sends
404s and truncated files. Instead, with STATIC_ROOT = ``var/static``::

    var/static -> static.versions/<stamp>-<digest>   a symlink, swapped with one rename
    var/static.versions/<stamp>-<digest>/            one complete collect each
    var/static.versions/<stamp>-<digest>.json        what it collected, from what

A collect goes into a new directory; the files of the previous collect that it
lacks (an old page's hashed CSS) are hard-linked into it; then the symlink is
swapped. A file once served is never written again. When nothing collectstatic
reads changed (the source files' names, sizes and mtimes, and the static
settings), nothing is done at all.
"""
import ctypes
import errno
import hashlib
import json
import os
import shutil
import sys
import time

VERSIONS_SUFFIX = ".versions"
KEEP = 3  # collects kept: the current one and two before it
IGNORE = ["CVS", ".*", "*~"]  # collectstatic's default ignore patterns


def main(argv):
    import django

    django.setup()
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    if not settings.STATIC_ROOT:
        print("settings.STATIC_ROOT is not set: collectstatic needs it", file=sys.stderr)
        return 1
    try:
        collect(os.path.abspath(os.fspath(settings.STATIC_ROOT)))
    except ImproperlyConfigured as e:
        print(e, file=sys.stderr)
        return 1
    return 0


def fingerprint(static_root):
    """A digest of everything collectstatic reads: the source files found by the
    finders (name, path, size, mtime) and the static settings."""
    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    digest.update(repr((static_root, settings.STATIC_URL, settings.STORAGES.get("staticfiles"))).encode())
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(IGNORE):
            prefixed = os.path.join(getattr(storage, "prefix", None) or "", path)
            source = storage.path(path)
            st = os.stat(source)
            entries.append(f"{prefixed}\0{source}\0{st.st_size}\0{st.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def collect(static_root):
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.exceptions import ImproperlyConfigured
    from django.core.files.storage import FileSystemStorage
    from django.core.management import call_command
    from django.test.utils import override_settings

    parent, name = os.path.split(static_root)
    versions = os.path.join(parent, name + VERSIONS_SUFFIX)
    current = current_version(static_root, versions)
    digest = fingerprint(static_root)
    if current and read_record(versions, current).get("fingerprint") == digest:
        print(f"Static files unchanged: {static_root} -> {current}")
        return

    os.umask(0o022)  # static files are for everyone to read
    os.makedirs(versions, exist_ok=True)
    version = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-" + digest[:8]
    target = os.path.join(versions, version)
    shutil.rmtree(target, ignore_errors=True)  # a leftover of an interrupted run
    with override_settings(STATIC_ROOT=target):
        if not isinstance(staticfiles_storage, FileSystemStorage) or \
                os.path.abspath(staticfiles_storage.location) != target:
            raise ImproperlyConfigured(
                f"the staticfiles storage {type(staticfiles_storage).__name__} does not write into "
                "STATIC_ROOT (a remote storage, or a location set in STORAGES): set collectstatic = false "
                "and run collectstatic yourself")
        call_command("collectstatic", interactive=False, verbosity=0)
    collected = sorted(files_under(target))
    carried = carry_over(versions, current, target, set(collected))
    write_record(versions, version, {"fingerprint": digest, "collected": collected, "carried": carried})
    switch(static_root, os.path.join(os.path.basename(versions), version))
    prune(versions, keep={version, current})
    print(f"Collected {len(collected)} static files into {target}"
          + (f", kept {len(carried)} of the collect before" if carried else "")
          + f"; {static_root} -> {version}")


def current_version(static_root, versions):
    """The version directory STATIC_ROOT links to, or None."""
    if not os.path.islink(static_root):
        return None
    target = os.path.normpath(os.path.join(os.path.dirname(static_root), os.readlink(static_root)))
    if os.path.dirname(target) != os.path.normpath(versions) or not os.path.isdir(target):
        return None
    return os.path.basename(target)


def read_record(versions, version):
    try:
        with open(os.path.join(versions, version + ".json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def write_record(versions, version, record):
    path = os.path.join(versions, version + ".json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.replace(path + ".tmp", path)


def files_under(directory):
    for root, _, files in os.walk(directory):
        for name in files:
            yield os.path.relpath(os.path.join(root, name), directory)


def carry_over(versions, previous, target, present):
    """Hard-link into ``target`` the files that the previous collect made and this
    one did not (the hashed names an open page still asks for). One collect back
    only, so that old files do not pile up."""
    if not previous:
        return []
    source = os.path.join(versions, previous)
    carried = []
    for relative in read_record(versions, previous).get("collected", []):
        if relative in present or not os.path.isfile(os.path.join(source, relative)):
            continue
        destination = os.path.join(target, relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        try:
            os.link(os.path.join(source, relative), destination)
        except OSError:
            shutil.copy2(os.path.join(source, relative), destination)
        carried.append(relative)
    return carried


def switch(static_root, link_target):
    """Point ``static_root`` at ``link_target`` with one rename. A real directory
    there (collected before this package managed it, or by a release before
    0.1.0) is exchanged with the new link in one step where the system can
    (renameat2), then moved aside: the server never finds STATIC_ROOT missing."""
    parent = os.path.dirname(static_root)
    temporary = os.path.join(parent, f".{os.path.basename(static_root)}.{os.getpid()}.tmp")
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(link_target, temporary)
    if os.path.isdir(static_root) and not os.path.islink(static_root):
        aside = os.path.join(parent, os.path.basename(static_root) + VERSIONS_SUFFIX,
                             time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-before")
        if exchange(temporary, static_root):  # static_root is the link now, temporary the directory
            os.rename(temporary, aside)
            return
        os.rename(static_root, aside)  # no renameat2 here: a moment without STATIC_ROOT
    os.replace(temporary, static_root)


RENAME_EXCHANGE = 2  # linux/fs.h
AT_FDCWD = -100


def exchange(a, b):
    """Swap paths ``a`` and ``b`` in one step (Linux's renameat2 with
    RENAME_EXCHANGE); False where the C library or the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)


def prune(versions, keep):
    """Remove all but the newest KEEP collects (and never those in ``keep``)."""
    names = sorted(n for n in os.listdir(versions) if os.path.isdir(os.path.join(versions, n)))
    for name in names[:-KEEP]:
        if name in keep:
            continue
        shutil.rmtree(os.path.join(versions, name), ignore_errors=True)
        record = os.path.join(versions, name + ".json")
        if os.path.exists(record):
            os.unlink(record)
