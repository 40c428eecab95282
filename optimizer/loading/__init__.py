"""Input loading and validation: every file a user gives the tool comes in through here.

- `yaml_source`: bytes -> text -> plain data with a line for every path (size cap, UTF-8 check naming
  the line of a bad byte, safe YAML 1.2 core scalars, depth and node caps). Problem files, the
  user's catalog files and the packaged catalog data all use it.
- `messages`: pydantic errors rewritten with paths and lines, the one "did you mean" matcher, and
  the cap on how many issues one error lists.
- `catalog_files`: where a problem's catalog files may be (inside its folder or a `--catalog-dir`),
  and reading them with the same hardening as problem files.
- `semantic`: checks the schema cannot express (cross-references, catalog names, sums).
- `problem_file`: `load_problem` / `parse_problem_text`, the whole pipeline for a problem file.

Layers: `yaml_source` and `messages` depend only on `optimizer.errors` and pydantic, so the catalog
can read its packaged data with them; `catalog_files`, `semantic` and `problem_file` sit above the
catalog. Import from the submodules (this package re-exports nothing, to keep that order acyclic).

    >>> from optimizer.loading.problem_file import load_problem
    >>> loaded = load_problem("problems/chat_assistant.yaml")  # doctest: +SKIP
    >>> loaded.problem.workloads[0].slo.ttft_ms  # doctest: +SKIP
    1000.0
"""
