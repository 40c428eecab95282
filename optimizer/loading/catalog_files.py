"""Catalog files: where they may be, and reading them with the same hardening as problem files.

A problem's `catalog.files` entries are paths relative to the problem file's folder. A path that
resolves (symbolic links followed) outside that folder is refused unless it lies in a directory the
user allowed explicitly (`--catalog-dir DIR`), so a problem file cannot make the tool read arbitrary
files. A file that is not a catalog is reported without quoting anything from it.

Reading goes through `optimizer.loading.yaml_source` (size cap, UTF-8 with the line of a bad byte,
safe YAML with depth and node caps) and `optimizer.catalog.catalog_sections`; the entries are merged
by `Catalog.extended`, and every issue is placed on its line in the catalog file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from optimizer.catalog import Catalog, catalog_sections
from optimizer.errors import InputError, InputIssue
from optimizer.loading.messages import placed
from optimizer.loading.yaml_source import YamlDocument, decode_bytes, parse_yaml, read_source

KIND = "catalog file"

CATALOG_DIR_HELP = (
    "also allow catalog files (the problem's catalog.files) from this directory; by default they must "
    "be inside the problem file's folder (repeatable)"
)
"""Help text of the `--catalog-dir` option of `solve` and `validate`."""


class CatalogPathError(ValueError):
    """A `catalog.files` entry that may not or cannot be read; the message says why and what to do."""


def _exists(path: Path) -> bool:
    """Whether anything is at `path` (a name the system cannot even look up counts as nothing)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def resolve_catalog_path(name: str, base_dir: Path, allowed_dirs: Sequence[Path] = ()) -> Path:
    """The file a `catalog.files` entry names: relative to `base_dir` (the problem file's folder),
    symbolic links resolved, and inside `base_dir` or one of `allowed_dirs`; else `CatalogPathError`
    (e.g. for `/etc/passwd`, or `../shared/gpus.yaml` without `--catalog-dir ../shared`).
    """
    if not name.strip() or "\x00" in name:
        raise CatalogPathError(f"catalog file name {name!r} is not a file name")
    folder = base_dir.resolve()
    try:
        path = (folder / name).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # symlink loops and the like
        raise CatalogPathError(f"catalog file {name!r} cannot be resolved ({exc})") from None
    roots = [folder, *(Path(d).resolve() for d in allowed_dirs)]
    if not any(_inside(path, root) for root in roots):
        literal = Path(os.path.normpath(folder / name))
        via = f" (a link to {path})" if literal != path else ""
        also = " and the --catalog-dir directories" if allowed_dirs else ""
        raise CatalogPathError(
            f"catalog file {name!r}{via} is outside the problem's folder {folder}{also}; move it into that "
            f"folder, or allow its directory with --catalog-dir {path.parent}"
        )
    return path


def read_catalog_file(path: Path, shown_as: str) -> tuple[dict[str, list[dict[str, object]]], YamlDocument]:
    """The sections of a catalog file and its parsed document (for lines), or an `InputError`."""
    text = decode_bytes(read_source(path, shown_as, KIND), shown_as, KIND)
    doc = parse_yaml(text, shown_as, kind=KIND)
    return catalog_sections(doc, shown_as), doc


def extend_with_file(catalog: Catalog, path: Path, shown_as: str | None = None) -> Catalog:
    """`catalog` extended with the entries of the catalog file at `path` (cited as `shown_as`).

    Raises one `InputError` with every issue, each on its line in the catalog file.
    """
    name = shown_as if shown_as is not None else str(path)
    sections, doc = read_catalog_file(path, name)
    try:
        return catalog.extended(
            gpus=sections["gpus"],
            models=sections["models"],
            precisions=sections["precisions"],
            prices=sections["prices"],
            file=name,
        )
    except InputError as exc:
        raise InputError(placed(exc.issues, doc.lines, name)) from None


def extend_with_files(
    catalog: Catalog,
    names: Sequence[str],
    base_dir: Path,
    allowed_dirs: Sequence[Path],
    where: Sequence[InputIssue],
) -> tuple[Catalog, list[InputIssue]]:
    """`catalog` extended with each of a problem's `catalog.files`, and every issue found.

    `where[i]` is an issue template locating entry `i` in the problem file (its path, line and file):
    issues about an entry as a whole (not found, outside the folder, too large, not a catalog) are
    placed there, so that each has a line; issues inside a catalog file cite that file and line.
    """
    issues: list[InputIssue] = []
    for name, at in zip(names, where, strict=True):
        try:
            path = resolve_catalog_path(name, base_dir, allowed_dirs)
        except CatalogPathError as exc:
            issues.append(InputIssue(at.path, str(exc), at.line, at.file))
            continue
        shown = str(path)
        if not _exists(path):
            message = (
                f"catalog file {name!r} not found (looked for {path}); paths are relative to the problem file"
            )
            issues.append(InputIssue(at.path, message, at.line, at.file))
            continue
        try:
            catalog = extend_with_file(catalog, path, shown)
        except InputError as exc:
            for issue in exc.issues:
                if issue.line is None and not issue.path:  # about the whole file: cite the entry
                    message = f"catalog file {name!r}: {issue.message}"
                    issues.append(InputIssue(at.path, message, at.line, at.file))
                else:
                    issues.append(issue)
    return catalog, issues
