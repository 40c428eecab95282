"""Loading a problem file: loading that never lies.

`load_problem(path)` reads a YAML problem file and returns a `LoadedProblem` (the frozen `Problem`, the
catalog it refers to, and a map from document paths to source lines), or raises one `InputError`
carrying every issue found (the first `MAX_ISSUES` listed, the rest counted), each with a dotted path
(`workloads[2].slo.ttft_ms`) and a line number.

The stages, each of which reports everything it finds before the next one runs:

1. bytes, text and YAML through `optimizer.loading.yaml_source` (size, encoding, safe YAML 1.2 core
   scalars, depth and node caps);
2. structure: `Problem.model_validate`, every pydantic error rewritten by
   `optimizer.loading.messages` with the path and line of the offending key;
3. catalog: the built-in catalog extended by the problem's `catalog` section; `catalog.files` are
   relative to the problem file and must stay inside its folder or a directory allowed with
   `catalog_dirs` (`--catalog-dir`), see `optimizer.loading.catalog_files`;
4. meaning: cross-references and feasibility checks in `optimizer.loading.semantic`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from optimizer.catalog import Catalog, default_catalog
from optimizer.errors import InputError, InputIssue
from optimizer.loading.catalog_files import extend_with_files
from optimizer.loading.messages import capped, placed, sort_issues, validation_issues
from optimizer.loading.semantic import check_problem
from optimizer.loading.yaml_source import (
    LineMap,
    PathKey,
    YamlDocument,
    decode_bytes,
    parse_yaml,
    read_source,
    root_kind,
)
from optimizer.schema.problem import Problem

KIND = "problem file"
_NEEDS = "a problem needs at least name, user_regions, sites and workloads"


@dataclass(frozen=True)
class LoadedProblem:
    """A validated problem with its catalog and source locations."""

    problem: Problem
    catalog: Catalog
    """The built-in catalog extended by the problem's `catalog` section."""
    source: str
    """File name as given (or `<text>`)."""
    lines: LineMap
    warnings: tuple[InputIssue, ...] = ()
    """Issues that do not stop the problem from being solved (each says what is assumed)."""

    def line_of(self, path: PathKey | str) -> int | None:
        """Line of `path` (or of its nearest ancestor written in the file)."""
        return self.lines.line_of(path)

    def where(self, path: PathKey | str) -> str:
        """`file:line` of a path, for messages."""
        line = self.line_of(path)
        return f"{self.source}:{line}" if line is not None else self.source

    def locate(self, exc: InputError) -> InputError:
        """`exc` with every issue that names no file placed in this problem's file, at the line of its
        path: for issues found after loading (candidate generation), which know only the path."""
        return InputError(placed(exc.issues, self.lines, self.source), omitted=exc.omitted)


def build_catalog(
    problem: Problem,
    base_dir: Path,
    lines: LineMap,
    filename: str,
    base: Catalog | None = None,
    catalog_dirs: Sequence[Path] = (),
) -> Catalog:
    """The built-in catalog (or `base`) extended by the problem's `catalog` section: first its files
    (relative to `base_dir`, inside it or `catalog_dirs`), then its inline entries."""
    catalog = base if base is not None else default_catalog()
    ext = problem.catalog
    where = [
        InputIssue(f"catalog.files[{i}]", "", lines.line_of(f"catalog.files[{i}]"), filename)
        for i in range(len(ext.files))
    ]
    catalog, issues = extend_with_files(catalog, ext.files, base_dir, catalog_dirs, where)
    if ext.gpus or ext.models or ext.precisions:
        try:
            catalog = catalog.extended(
                gpus=list(ext.gpus),
                models=list(ext.models),
                precisions=list(ext.precisions),
                file=filename,
                path_prefix="catalog.",
            )
        except InputError as exc:
            issues.extend(placed(exc.issues, lines, filename))
    if issues:
        raise capped(issues)
    return catalog


def _validate(
    doc: YamlDocument,
    filename: str,
    base_dir: Path,
    catalog: Catalog | None,
    check: bool,
    catalog_dirs: Sequence[Path],
) -> LoadedProblem:
    if doc.data is None:
        message = f"the file is empty (or holds only comments); {_NEEDS}"
        raise InputError(InputIssue(path="", message=message, file=filename))
    if not isinstance(doc.data, dict):
        raise InputError(
            InputIssue(
                path="",
                message="the file must be a mapping of sections (name:, user_regions:, sites:, workloads:, "
                f"...), not {root_kind(doc.data)}",
                line=doc.lines.line_of(()),
                file=filename,
            )
        )
    if doc.data.get("kind") == "fleet_plan":  # a plan given where a problem is expected
        solved = doc.data.get("problem")
        source = f" (it is a plan of problem {solved!r})" if isinstance(solved, str) else ""
        raise InputError(
            InputIssue(
                path="",
                message=f"this is a plan file{source}, not a problem file; give the problem file it was "
                "solved from, or check the plan with `optimizer plan validate`",
                line=doc.lines.line_of(("kind",)),
                file=filename,
            )
        )
    try:
        problem = Problem.model_validate(doc.data)
    except ValidationError as exc:
        raise capped(validation_issues(exc, doc.data, Problem, lines=doc.lines, filename=filename)) from None
    cat = build_catalog(problem, base_dir, doc.lines, filename, base=catalog, catalog_dirs=catalog_dirs)
    warnings: list[InputIssue] = []
    if check:
        report = check_problem(problem, cat)
        if report.errors:
            raise capped(placed(report.errors, doc.lines, filename))
        warnings = sort_issues(placed(report.warnings, doc.lines, filename))
    return LoadedProblem(
        problem=problem, catalog=cat, source=filename, lines=doc.lines, warnings=tuple(warnings)
    )


def _parse(raw: bytes | str, filename: str) -> YamlDocument:
    text = decode_bytes(raw, filename, KIND) if isinstance(raw, bytes) else raw
    if not text.strip():
        raise InputError(InputIssue(path="", message=f"the file is empty; {_NEEDS}", file=filename))
    try:
        return parse_yaml(text, filename, kind=KIND)
    except InputError as exc:
        raise capped(exc.issues) from None


def parse_problem_text(
    text: str | bytes,
    filename: str = "<text>",
    *,
    base_dir: Path | str | None = None,
    catalog: Catalog | None = None,
    check: bool = True,
    catalog_dirs: Sequence[Path | str] = (),
) -> LoadedProblem:
    """Parse and validate a problem from text (or bytes).

    `base_dir` resolves `catalog.files` (default: the current directory), which must lie inside it or
    `catalog_dirs`; `catalog` replaces the built-in catalog as the base; `check=False` skips the
    semantic checks. Raises `InputError` only.
    """
    doc = _parse(text, filename)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    return _validate(doc, filename, base, catalog, check, [Path(d) for d in catalog_dirs])


def load_problem(
    path: Path | str,
    *,
    catalog: Catalog | None = None,
    check: bool = True,
    catalog_dirs: Sequence[Path | str] = (),
) -> LoadedProblem:
    """Read, parse and validate a problem file; raise one `InputError` with every issue found.

    `catalog.files` must lie inside the problem file's folder or one of `catalog_dirs`.
    """
    file = Path(path)
    name = str(path)
    doc = _parse(read_source(file, name, KIND), name)
    return _validate(doc, name, file.resolve().parent, catalog, check, [Path(d) for d in catalog_dirs])
