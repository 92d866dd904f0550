"""Writing generated files: atomically, and only when their content changes."""
import logging
import os
import tempfile

log = logging.getLogger("djangowsgi")


def write_if_changed(path, content, mode=0o644):
    """Write ``content`` to ``path`` unless it already holds it; return True if written.

    A running mod_wsgi daemon reloads when its script's mtime changes, so an
    unchanged file must keep its mtime. The new content goes to a temporary file
    in the same directory first, so readers see the old file or the new, never half.
    """
    try:
        with open(path, encoding="utf-8") as f:
            unchanged = f.read() == content
    except FileNotFoundError:
        unchanged = False
    if unchanged:
        if os.stat(path).st_mode & 0o7777 != mode:
            os.chmod(path, mode)
        return False
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    log.info("Wrote %s", path)
    return True


def make_directory(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    if os.stat(path).st_mode & 0o7777 != mode:
        os.chmod(path, mode)
