"""Every pointer into a section of the documentation (``serving.rst, "Logs"``,
``README.rst ("Five minutes: your Django project on Apache")``) names a section
that exists: in the docs, the README, the configuration files, the templates,
the code and the tests."""
import re

from layout import REPO

POINTER = re.compile(r"""(?:docs/)?\b([A-Za-z_]+\.rst)`*,?\s*\(?\s*"([A-Z][^"=\[\]{}\\`]{2,100}?)"[).,;: ]""")
UNDERLINE = re.compile(r"([=\-~^])\1{2,}")


def sections(document):
    lines = document.read_text(encoding="utf-8").splitlines()
    return {lines[i].strip() for i in range(len(lines) - 1)
            if lines[i].strip() and UNDERLINE.fullmatch(lines[i + 1].strip())}


def pointing_files():
    yield REPO / "README.rst"
    yield REPO / "DESCRIPTION.rst"
    yield from sorted((REPO / "docs").glob("*.rst"))
    yield from sorted(REPO.glob("*.cfg"))
    for folder in ("src", "tests", "bench", "tools"):
        yield from sorted(p for p in (REPO / folder).rglob("*") if p.is_file() and p.suffix in (".py", ".in", ""))


def pointers():
    for path in pointing_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        flat = re.sub(r"\s*\n[\s#]*", " ", text)  # a pointer may run over lines, in comments too
        for match in POINTER.finditer(flat):
            yield path.relative_to(REPO), match.group(1), match.group(2)


def test_every_pointer_names_a_section_that_exists():
    broken, found = [], 0
    for source, document, title in pointers():
        target = REPO / document if document in ("README.rst", "DESCRIPTION.rst") else REPO / "docs" / document
        found += 1
        if not target.exists():
            broken.append(f"{source}: {document} does not exist")
        elif title not in sections(target):
            broken.append(f'{source}: {document} has no section "{title}"')
    assert found > 20  # the pattern still finds the pointers
    assert broken == [], "\n".join(broken)
