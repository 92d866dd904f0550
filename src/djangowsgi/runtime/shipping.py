"""What a deploy ships so that its hosts need no package index.

On the deploying machine, under ``parts/<deploy part>/``::

    wheels/         zc.buildout, zc.recipe.egg and what they need, at the versions
                    that run bin/buildout here (one ``pip download``, then kept)
    eggs/<egg>.tar.gz   each shipped egg directory, packed once

On a host, under ``path/shared/``::

    wheels/                      the same wheels
    eggs/<v5>/<egg>/             the eggs, unpacked next to any the host built itself
    buildout/<key>/              a virtualenv with zc.buildout, one for each Python and set
                                 of versions, made once and used by every release
    develop/<name>-<tree>/       a develop egg from outside the checkout (../djangowsgi),
                                 its files at HEAD, one for each git tree
"""
import concurrent.futures
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile


def venv_key(config):
    """The shared virtualenv's name: the Python and the versions installed in it."""
    digest = hashlib.sha256("\n".join([config.python] + config.buildout_requirements).encode())
    return f"py{config.python_version}-{digest.hexdigest()[:10]}"


def local_wheels(config):
    """The wheel files for buildout_requirements, fetched once (pip's cache and index)."""
    directory = os.path.join(config.work_directory, "wheels")
    marker = os.path.join(directory, ".for-" + hashlib.sha256(
        "\n".join(config.buildout_requirements).encode()).hexdigest()[:10])
    if not os.path.exists(marker):
        os.makedirs(directory, exist_ok=True)
        print(f"Fetching wheels of {', '.join(config.buildout_requirements)} into {directory} (once).")
        fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                                  "--only-binary=:all:", "--dest", directory, *config.buildout_requirements],
                                 capture_output=True, text=True)
        if fetched.returncode:
            raise RuntimeError(f"pip download {' '.join(config.buildout_requirements)} failed: "
                               + " | ".join(fetched.stderr.strip().splitlines()[-3:]))
        open(marker, "w").close()
    wanted = {_wheel_key(r.replace("==", "-")) for r in config.buildout_requirements}
    return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                  if name.endswith(".whl") and _wheel_key("-".join(name.split("-")[:2])) in wanted)


def _wheel_key(name_version):
    name, version = name_version.rsplit("-", 1)
    return name.replace("-", "_").replace(".", "_").lower() + "-" + version


def egg_archive(config, egg):
    """``egg``'s directory from the local eggs directory, packed (once) as a tar.gz."""
    directory = os.path.join(config.work_directory, "eggs")
    archive = os.path.join(directory, egg + ".tar.gz")
    if not os.path.exists(archive):
        os.makedirs(directory, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=directory, suffix=".partial")
        with os.fdopen(handle, "wb") as f, tarfile.open(fileobj=f, mode="w:gz", compresslevel=1) as tar:
            tar.add(os.path.join(config.eggs_directory, egg), arcname=egg)
        os.replace(partial, archive)
    return archive


def outside_develop(config):
    """{local path: (name on the hosts, archive)} for the develop paths outside the
    checkout: each one's tracked files at HEAD (git archive), named by its git tree."""
    found = {}
    for path in config.develop:
        if not os.path.isabs(path):
            continue
        try:
            tree = subprocess.run(["git", "-C", path, "rev-parse", "HEAD^{tree}"], capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            raise SystemExit(f"develop path {path} is outside the checkout and not a git checkout with a "
                             f"commit: the deploy cannot ship it (commit it, or move it into the checkout)")
        name = f"{os.path.basename(path.rstrip('/'))}-{tree[:12]}"
        archive = os.path.join(config.work_directory, "develop", name + ".tar.gz")
        if not os.path.exists(archive):
            os.makedirs(os.path.dirname(archive), exist_ok=True)
            partial = archive + f".partial-{os.getpid()}"
            subprocess.run(["git", "-C", path, "archive", "--format=tar.gz", f"--prefix={name}/", "-o", partial,
                            "HEAD"], check=True)
            os.replace(partial, archive)
        found[path] = (name, archive)
    return found


def prepare(config):
    """Everything a deploy may ship, made ready here once: the eggs packed, the
    wheels fetched (egg by egg, in threads: zlib and pip work outside the GIL)."""
    if not config.ship_eggs:
        return
    jobs = [lambda egg=egg: egg_archive(config, egg) for egg in config.shipped_eggs]
    jobs.append(lambda: local_wheels(config))
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def purelib_wheels(wheels):
    """True when every wheel is pure Python with no .data directory: unpacked into
    site-packages as it is, it is installed (the wheel format says so)."""
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            if any(".data/" in name.split("/", 1)[0] + "/" for name in names):
                return False
            metadata = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")]
            if not metadata or b"Root-Is-Purelib: true" not in archive.read(metadata[0]):
                return False
    return True
