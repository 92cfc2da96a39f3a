"""The default text corpus: the English Python 3.11 documentation, lightly stripped of reST markup.

Why this corpus: Gato trains on text next to control data, and the project may not download
anything at run time. The Debian package `python3.11-doc` (in the project's apt.txt) ships the
reStructuredText sources of the Python documentation (~11 MB of real, edited English prose with
some code, 497 files) under /usr/share/doc/python3.11/html/_sources, so every machine built from
the project's package lists has the same corpus, with a known license (PSF), and no network.

`load_documents` turns each source file into one document: reST directives that carry no prose
(index entries, module metadata, toctrees) are dropped, role syntax (:func:`len` -> len), links,
inline literals and heading underlines are removed, paragraphs are joined into single lines and
code blocks are kept (verbatim, dedented) or dropped. Order is deterministic (sorted paths).
"""

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path("/usr/share/doc/python3.11/html/_sources")
DEBIAN_PACKAGE = "python3.11-doc"

# Directives whose whole block (arguments and body) is dropped: metadata, not prose.
_DROP = {
    "index", "module", "moduleauthor", "sectionauthor", "testsetup", "testcleanup", "toctree",
    "highlight", "include", "currentmodule", "tabularcolumns", "literalinclude", "image",
    "figure", "contents", "program", "audit-event", "raw", "csv-table", "list-table",
}
# Directives whose body is code: kept only with keep_code.
_CODE = {"code-block", "code", "sourcecode", "doctest", "testcode", "testoutput",
         "parsed-literal", "productionlist"}

# Version directives: their argument becomes a sentence.
_VERSION_PREFIX = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "deprecated-removed": "Deprecated since version",
}

_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::\s*(.*)$")
_COMMENT = re.compile(r"^(\s*)\.\.(\s|$)")
_OPTION = re.compile(r"^\s+:[\w -]+:(\s.*)?$")
_UNDERLINE = re.compile(r"^\s*([=\-~^\"*#+'`:._])\1{2,}\s*$")
_ROLE = re.compile(r":(?:[\w-]+:)*[\w-]+:`([^`]+)`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>`]+>`__?")
_REF = re.compile(r"`([^`]+)`__?")
_LITERAL = re.compile(r"``(.+?)``")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_TARGET = re.compile(r"^(.*?)\s*<[^>]+>$")
_BULLET = re.compile(r"^\s*(?:[*+-]|#\.|\d+\.)\s+")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _content_indent(line: str) -> int:
    """Indent of a line's text, after a list marker if there is one ("* text" -> 2)."""
    bullet = _BULLET.match(line)
    return bullet.end() if bullet else _indent(line)


def _role_text(match: re.Match) -> str:
    """`:ref:`text <label>`` -> text; `:func:`~os.path.join`` -> os.path.join."""
    text = match.group(1)
    target = _TARGET.match(text)
    return (target.group(1) if target else text).lstrip("~!")


def strip_inline(text: str) -> str:
    """Removes inline reST markup: roles, links, ``literals``, **strong**."""
    text = _ROLE.sub(_role_text, text)
    text = _LINK.sub(r"\1", text)
    text = _REF.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    return _STRONG.sub(r"\1", text)


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index of the first line after `start` that is non-blank and indented <= `indent`."""
    i = start
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
        i += 1
    return i


def _code(lines: list[str]) -> list[str]:
    """Dedents a code block; blank lines are kept inside it."""
    body = [line.rstrip() for line in lines]
    while body and not body[-1]:
        body.pop()
    while body and not body[0]:
        body.pop(0)
    base = min((_indent(line) for line in body if line), default=0)
    return [line[base:] for line in body]


def rst_to_text(source: str, keep_code: bool = True) -> str:
    """Lightly converts one reST source to plain text: paragraphs become single lines."""
    lines = source.expandtabs(8).splitlines()
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            paragraphs.append(strip_inline(" ".join(current)))
            current.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        if directive or _COMMENT.match(line):
            flush()
            indent = _indent(line)
            end = _block_end(lines, i + 1, indent)
            name = directive.group(2).split(":")[-1] if directive else ""
            if directive and name in _CODE:
                if keep_code:
                    paragraphs.append("\n".join(_code(lines[i + 1 : end])))
            elif directive and name not in _DROP:
                if directive.group(3):
                    prefix = _VERSION_PREFIX.get(name)
                    arg = directive.group(3)
                    current.append(f"{prefix} {arg}." if prefix else arg)
                    flush()
                i += 1
                while i < len(lines) and _OPTION.match(lines[i]):
                    i += 1
                continue
            i = end
            continue
        if not line.strip() or _UNDERLINE.match(line):
            flush()
            i += 1
            continue
        if line.rstrip().endswith("::"):
            text = line.rstrip()[:-2].rstrip()
            if text:
                current.append(text.strip() + ":")
            flush()
            end = _block_end(lines, i + 1, _content_indent(line))
            if keep_code:
                paragraphs.append("\n".join(_code(lines[i + 1 : end])))
            i = end
            continue
        current.append(line.strip())
        i += 1
    flush()
    return "\n\n".join(p for p in paragraphs if p.strip()) + "\n"


def source_files(root: Path | str = DEFAULT_ROOT) -> list[Path]:
    """The corpus's *.rst.txt files in sorted order; a clear error if the package is missing."""
    root = Path(root)
    files = sorted(root.rglob("*.rst.txt"))
    if not files:
        raise FileNotFoundError(
            f"no *.rst.txt files under {root}: the default text corpus comes from the Debian "
            f"package {DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE}, listed in apt.txt)"
        )
    return files


def load_documents(
    root: Path | str = DEFAULT_ROOT, min_chars: int = 200, keep_code: bool = True
) -> list[str]:
    """One plain-text document per source file (sorted by path), dropping those < min_chars."""
    documents = []
    for path in source_files(root):
        text = rst_to_text(path.read_text(encoding="utf-8", errors="replace"), keep_code)
        if len(text) >= min_chars:
            documents.append(text)
    return documents


def split(
    documents: Sequence[str], validation_fraction: float = 0.05, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Deterministic train/validation split by a seeded permutation of document indices.

    Returns (train, validation), each in the original document order; validation gets
    round(len * validation_fraction) documents, at least one when there are two or more.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    n = len(documents)
    n_val = round(n * validation_fraction)
    if validation_fraction > 0 and n >= 2:
        n_val = max(n_val, 1)
    order = np.random.default_rng(seed).permutation(n)
    val = set(order[:n_val].tolist())
    train = [d for i, d in enumerate(documents) if i not in val]
    return train, [d for i, d in enumerate(documents) if i in val]
