"""The sys.path a generated script needs: the part's eggs, resolved by zc.recipe.egg."""
import ast
import os
import re
import sysconfig

import zc.recipe.egg


def python_path(buildout, name, options, eggs, extra_paths=()):
    """Absolute sys.path entries for ``eggs`` and their dependencies, each once.

    The order is stable: develop eggs first, then the eggs directory's, each group
    sorted (the working set comes back in another order on the run that downloads),
    then ``extra_paths`` as given. The Python running buildout (its site-packages)
    is left out: the runtime must not see it, and a Python without buildout has
    its own.
    """
    options["eggs"] = "\n".join(eggs)
    _, working_set = zc.recipe.egg.Eggs(buildout, name, options).working_set()
    develop_eggs = os.path.realpath(buildout["buildout"]["develop-eggs-directory"])
    eggs_directory = os.path.realpath(buildout["buildout"]["eggs-directory"]) + os.sep
    found = set()
    for dist in required(working_set, eggs):
        location = os.path.realpath(dist.location)
        if location == develop_eggs:
            found.update(editable_roots(develop_eggs, dist.project_name))
        else:
            found.add(location)
    found = sorted(found, key=lambda p: (p.startswith(eggs_directory), p.lower()))
    shared = {os.path.realpath(p) for p in _interpreter_paths()}
    result = []
    for path in found + [os.path.realpath(p) for p in extra_paths]:
        if path not in result and path not in shared:
            result.append(path)
    return result


def required(working_set, requirements):
    """The distributions ``requirements`` need, out of ``working_set``.

    A working set holds more: when one develop egg is added from develop-eggs/,
    every distribution there comes along, this recipe's own among them.
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
        if dist is None or (dist.key, extras) in seen:
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


def _interpreter_paths():
    scheme = sysconfig.get_paths()
    return {scheme["purelib"], scheme["platlib"], scheme["stdlib"]}
