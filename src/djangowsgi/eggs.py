"""The sys.path a generated script needs: the part's eggs, resolved by zc.recipe.egg."""
import ast
import os
import re
import sysconfig
from importlib import metadata

import zc.recipe.egg
from packaging.requirements import Requirement


def python_path(buildout, name, options, eggs, extra_paths=()):
    """Absolute sys.path entries for ``eggs`` and their dependencies, each once.

    The order is stable: develop eggs first, then the eggs directory's, each group
    sorted (the working set comes back in another order on the run that downloads),
    then ``extra_paths`` as given. The Python running buildout (its site-packages)
    is left out: the runtime must not see it, and a Python without buildout has
    its own. So an egg taken from there is an error (``FromSitePackages``),
    unless it is one of what bin/buildout's own virtualenv holds everywhere
    (zc.buildout, zc.recipe.egg and their requirements: setuptools, packaging...).
    """
    options["eggs"] = "\n".join(eggs)
    _, working_set = zc.recipe.egg.Eggs(buildout, name, options).working_set()
    develop_eggs = os.path.realpath(buildout["buildout"]["develop-eggs-directory"])
    eggs_directory = os.path.realpath(buildout["buildout"]["eggs-directory"]) + os.sep
    shared = {os.path.realpath(p) for p in _interpreter_paths()}
    found, missing = set(), []
    for dist in required(working_set, eggs, missing):
        location = os.path.realpath(dist.location)
        if location in shared:  # in the working set, but from the Python running buildout
            missing.append(dist.project_name)
        elif location == develop_eggs:
            found.update(editable_roots(develop_eggs, dist.project_name))
        else:
            found.add(location)
    missing = [name for name in missing if _normalize(name) not in _buildout_closure()]
    if missing:
        raise FromSitePackages(missing)
    found = sorted(found, key=lambda p: (p.startswith(eggs_directory), p.lower()))
    result = []
    for path in found + [os.path.realpath(p) for p in extra_paths]:
        if path not in result and path not in shared:
            result.append(path)
    return result


class FromSitePackages(ValueError):
    """Eggs that buildout took from the site-packages of the Python running it."""

    def __init__(self, names):
        self.names = names = sorted({_installed_name(n) for n in names}, key=str.lower)
        where = sysconfig.get_paths()["purelib"]
        super().__init__(
            f"{', '.join(names)} taken from {where}, the Python running buildout, not from the "
            f"buildout's eggs: the scripts' paths would leave {'it' if len(names) == 1 else 'them'} out "
            f"and a deploy would not ship {'it' if len(names) == 1 else 'them'}; run bin/buildout from a "
            f"virtualenv that holds only zc.buildout and zc.recipe.egg (djangowsgi bootstrap makes one)")


def _installed_name(name):
    """A distribution's name as it spells it (Django, not django), where installed."""
    try:
        return metadata.distribution(name).metadata["Name"] or name
    except metadata.PackageNotFoundError:
        return name


def required(working_set, requirements, missing=None):
    """The distributions ``requirements`` need, out of ``working_set``.

    A working set holds more: when one develop egg is added from develop-eggs/,
    every distribution there comes along, this recipe's own among them. It also
    holds less: zc.buildout 6 leaves out what the Python running it already has
    installed (or puts them in from there). The names of those left out go to
    ``missing``.
    """
    by_name = {_normalize(d.project_name): d for d in working_set}
    todo = []
    for line in requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", line)
        if match:
            extras = tuple(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
            todo.append((match.group(1), extras))
    seen, needed = set(), []
    while todo:
        name, extras = todo.pop()
        dist = by_name.get(_normalize(name))
        if dist is None:
            if missing is not None and name not in missing:
                missing.append(name)
            continue
        if (dist.key, extras) in seen:
            continue
        seen.add((dist.key, extras))
        if dist not in needed:
            needed.append(dist)
        todo.extend((r.project_name, tuple(r.extras)) for r in dist.requires(extras))
    return needed


def editable_roots(develop_eggs, project_name):
    """The directories a develop egg's code is imported from.

    zc.buildout 6 develops with ``pip install -e``; setuptools then leaves in
    develop-eggs/ a ``__editable__.<name>-<version>.pth`` that either names the
    directory (a plain line) or installs an import hook whose MAPPING names each
    top-level package's directory. A plain sys.path entry runs no .pth file, so
    the directories are read out here. The develop-eggs directory itself is never
    returned: it also holds the other develop eggs, this recipe's among them.
    """
    wanted = _normalize(project_name)
    roots = []
    for filename in sorted(os.listdir(develop_eggs)):
        match = re.match(r"__editable__\.(.+)-[^-]+\.pth\Z", filename)
        if not match or _normalize(match.group(1)) != wanted:
            continue
        with open(os.path.join(develop_eggs, filename), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("import "):
                    module = line.split()[1].rstrip(";")
                    roots.extend(_finder_roots(os.path.join(develop_eggs, module + ".py")))
                elif line and not line.startswith("#"):
                    roots.append(os.path.realpath(os.path.join(develop_eggs, line)))
    return roots


def _finder_roots(finder_file):
    """Parents of the package directories in a setuptools editable finder's MAPPING."""
    with open(finder_file, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == "MAPPING":
            mapping = ast.literal_eval(node.value)
            return [os.path.realpath(os.path.dirname(p)) for p in mapping.values()]
    return []


def _normalize(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def _buildout_closure():
    """Normalized names of zc.buildout, zc.recipe.egg and all they require, as
    installed in the Python running buildout."""
    return {_normalize(pin.split("==")[0]) for pin in pinned_closure(["zc.buildout", "zc.recipe.egg"])}


def _interpreter_paths():
    scheme = sysconfig.get_paths()
    return {scheme["purelib"], scheme["platlib"], scheme["stdlib"]}


def shipped_eggs(buildout, deploy_part, deploy_eggs):
    """The egg directories (names) a deploy ships to its hosts: the eggs of every
    other part with an ``eggs`` option and every pinned egg the eggs directory
    holds, except what only the deploy part itself needs (Fabric and its own)."""
    eggs_directory = os.path.realpath(buildout["buildout"]["eggs-directory"])
    here = {name for name in os.listdir(eggs_directory) if name.endswith(".egg")} \
        if os.path.isdir(eggs_directory) else set()

    def in_eggs_directory(dists):
        return {os.path.basename(d.location) for d in dists
                if os.path.dirname(os.path.realpath(d.location)) == eggs_directory}
    needed = set()
    for part in buildout["buildout"].get("parts", "").split():
        options = buildout[part]
        if part == deploy_part or not options.get("eggs", "").strip():
            continue
        requirements = [line.strip() for line in options["eggs"].splitlines() if line.strip()]
        _, working_set = zc.recipe.egg.Eggs(buildout, part, dict(options)).working_set()
        needed |= in_eggs_directory(required(working_set, requirements))
    _, working_set = zc.recipe.egg.Eggs(buildout, deploy_part, {"eggs": "\n".join(deploy_eggs)}).working_set()
    deploy_only = in_eggs_directory(required(working_set, deploy_eggs)) - needed
    versions = buildout[buildout["buildout"].get("versions", "versions")]
    pinned = {f"{_normalize(name)}-{version}" for name, version in versions.items()}
    for name in here:
        project, version = name.split("-")[:2]
        if f"{_normalize(project)}-{version}" in pinned and name not in deploy_only:
            needed.add(name)
    return sorted(needed & here)


def pinned_closure(names):
    """``name==version`` for ``names`` and everything they require, as installed
    in the Python running buildout."""
    pins, todo = {}, list(names)
    while todo:
        name = todo.pop()
        if _normalize(name) in pins:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        pins[_normalize(name)] = f"{dist.metadata['Name']}=={dist.version}"
        for line in dist.requires or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return sorted(pins.values(), key=str.lower)
