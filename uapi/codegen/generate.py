"""Render client libraries: one Jinja2 template per output file.

Templates live in `templates/<lang>/`, mirrored path for path (`uapi_client/
models.py.j2` renders `uapi_client/models.py`). `--templates DIR` overrides
single files by the same relative path, or by file name when that is unique.
`dist/index.js` includes `src/index.ts`'s template with the TypeScript-only spans
dropped (see TS_ONLY). Output depends only on the spec and
the templates, never on time or environment, so regenerating is byte-stable.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache

from uapi.codegen import examples
from uapi.codegen.lang_python import PythonLang
from uapi.codegen.lang_typescript import TypeScriptLang
from uapi.codegen.model import Api, load_api
from uapi.codegen.names import camel, pascal, snake
from uapi.codegen.spec import CodegenError, Problem

TEMPLATE_ROOT = Path(__file__).parent / "templates"
LANGUAGES = ("python", "typescript")
DEFAULT_OUT = {"python": "generated/python", "typescript": "generated/typescript"}
# Lists what the last generation wrote, so regeneration can remove files a
# changed spec no longer produces without touching anything else in the folder.
MANIFEST = ".uapi-generated"
# Text between these marks is TypeScript-only: kept (marks removed) in .ts
# output, dropped in .js output. This is what lets dist/index.js be rendered
# from the same template as src/index.ts without a TypeScript compiler.
TS_ONLY = re.compile("⟪(.*?)⟫", re.S)



class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept for the process: each render builds a fresh Environment
    (its filters are bound to one spec), and recompiling every template dominated
    generation time. Buckets are checked against the template source, so edited or
    overriding templates are recompiled."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _MemoryBytecodeCache()


def template_names(lang: str) -> list[str]:
    builtin = _builtin(lang)
    return sorted(p.relative_to(builtin).as_posix() for p in builtin.rglob("*.j2"))


def overrides(lang: str, templates_dir: str | Path) -> dict[str, Path]:
    """Built-in template name -> overriding file. A file matches by relative path
    (`uapi_client/models.py.j2`) or, when that is unambiguous, by file name (`models.py.j2`)."""
    folder = Path(templates_dir)
    if not folder.is_dir():
        raise CodegenError([Problem("--templates", f"{folder} is not a directory")])
    names = template_names(lang)
    by_file_name: dict[str, list[str]] = {}
    for name in names:
        by_file_name.setdefault(name.rsplit("/", 1)[-1], []).append(name)
    found: dict[str, Path] = {}
    problems = []
    for path in sorted(folder.rglob("*.j2")):
        relative = path.relative_to(folder).as_posix()
        candidates = [relative] if relative in names else by_file_name.get(path.name, [])
        if len(candidates) != 1:
            # An override that matches nothing (or several) would be ignored; say so instead.
            why = "matches several; give its relative path" if candidates else "matches none"
            problems.append(Problem("--templates", f"{relative!r} {why} of the built-in {lang} templates "
                                                   f"({', '.join(names)})"))
        elif candidates[0] in found:
            problems.append(Problem("--templates", f"{relative!r} overrides {candidates[0]!r} a second time"))
        else:
            found[candidates[0]] = path
    if problems:
        raise CodegenError(problems)
    return found


def render(api: Api, lang: str, templates_dir: str | Path | None = None) -> dict[str, str]:
    """All output files of `lang` for `api`, as {relative path: text}."""
    names = template_names(lang)
    replaced = overrides(lang, templates_dir) if templates_dir is not None else {}

    def load_override(name: str) -> tuple[str, str, Callable[[], bool]] | None:
        path = replaced.get(name)
        if path is None:
            return None
        mtime = path.stat().st_mtime
        return path.read_text(encoding="utf-8"), str(path), lambda: path.stat().st_mtime == mtime

    env = jinja2.Environment(
        # Overrides first, so a built-in template including another gets the override too.
        loader=jinja2.ChoiceLoader([jinja2.FunctionLoader(load_override),
                                    jinja2.FileSystemLoader(str(_builtin(lang)))]),
        undefined=jinja2.StrictUndefined,  # a typo in a template must fail, not render blank
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        bytecode_cache=_BYTECODE,
    )
    helper = PythonLang(api) if lang == "python" else TypeScriptLang(api)
    env.filters.update(helper.filters())
    env.filters.update({"snake": snake, "camel": camel, "pascal": pascal})
    context: dict[str, Any] = {
        "api": api,
        "package": api.naming.python() if lang == "python" else api.naming.typescript(),
        "names": api.naming,
        "features": helper.features,
        "snippets": examples.plan(api),
        "ops_by_id": {op.operation_id: op for op in api.operations},
    }
    files: dict[str, str] = {}
    for name in names:
        out_name = name[: -len(".j2")]
        if lang == "python" and out_name.startswith("uapi_client/"):
            out_name = api.naming.module + out_name[len("uapi_client"):]
        text = env.get_template(name).render(context)
        files[out_name] = _finish(out_name, text)
    files[MANIFEST] = "# Files written by `uapi generate`; regeneration replaces them.\n" + "".join(
        f"{n}\n" for n in sorted(files))
    return files


def generate(lang: str, spec_path: str | Path, templates_dir: str | Path | None = None,
             package_name: str | None = None, client_name: str | None = None) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise CodegenError([Problem("--lang", f"unknown language {lang!r}; choose from {', '.join(LANGUAGES)}")])
    return render(load_api(spec_path, package_name, client_name), lang, templates_dir)


def write_tree(files: dict[str, str], out_dir: str | Path) -> list[str]:
    """Write `files` under `out_dir`, removing files an earlier generation wrote but this one did not."""
    root = Path(out_dir)
    stale: set[str] = set()
    manifest = root / MANIFEST
    if manifest.exists():
        stale = {line for line in manifest.read_text(encoding="utf-8").splitlines()
                 if line and not line.startswith("#")} - files.keys()
    changed = []
    for name, text in files.items():
        path = root / name
        data = text.encode("utf-8")
        if path.exists() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changed.append(name)
    for name in sorted(stale):
        (root / name).unlink(missing_ok=True)
    return changed


def _builtin(lang: str) -> Path:
    return TEMPLATE_ROOT / lang


def _finish(name: str, text: str) -> str:
    if name.endswith(".js"):
        text = TS_ONLY.sub("", text)
        # Dropped declarations leave runs of blank lines behind.
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = TS_ONLY.sub(r"\1", text)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return text.strip("\n") + "\n" if text.strip() else ""
