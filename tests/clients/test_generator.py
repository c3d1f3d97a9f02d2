"""The generator: golden output on small specs, refusals, determinism, overrides, the CLI,
and the committed generated/ clients being what the current spec generates."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.clients.conftest import GENERATED, GOLDEN, SPEC, SPECS
from uapi.cli import main as uapi_main
from uapi.codegen.generate import LANGUAGES, MANIFEST, generate, write_tree
from uapi.codegen.model import load_api
from uapi.codegen.spec import CodegenError

GOLDEN_SPECS = sorted(p.stem for p in SPECS.glob("*.yaml"))
PROBES = SPECS.parent / "probes"
# Left in generated/ by tools, never by the generator.
IGNORED = {"node_modules", "__pycache__", ".mypy_cache", "build"}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` except tool droppings, by relative path."""
    out = {}
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if path.is_file() and not any(p in IGNORED or p.endswith(".egg-info") for p in parts):
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def encoded(files: dict[str, str]) -> dict[str, bytes]:
    return {name: text.encode("utf-8") for name, text in files.items()}


def assert_same_tree(expected: dict[str, bytes], actual: dict[str, bytes], hint: str) -> None:
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(n for n in expected.keys() & actual.keys() if expected[n] != actual[n])
    assert not (missing or extra or changed), f"{hint}\nmissing: {missing}\nextra: {extra}\nchanged: {changed}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_committed_clients_are_up_to_date(lang: str) -> None:
    """generated/<lang> is exactly what the current spec and templates generate."""
    files = encoded(generate(lang, SPEC))
    assert_same_tree(files, tree(GENERATED / lang),
                     f"generated/{lang} is stale: run `uapi generate --lang {lang}` and commit the result")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("spec", GOLDEN_SPECS)
def test_golden_output(spec: str, lang: str) -> None:
    files = generate(lang, SPECS / f"{spec}.yaml")
    golden = GOLDEN / spec / lang
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        write_tree(files, golden)
    assert_same_tree(encoded(files), tree(golden),
                     f"output for specs/{spec}.yaml changed: review, then rerun with UPDATE_GOLDEN=1")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_output_is_deterministic(lang: str) -> None:
    assert generate(lang, SPEC) == generate(lang, SPEC)


def test_unsupported_constructs_are_skipped_with_warnings_naming_their_json_pointer() -> None:
    path = PROBES / "unsupported.yaml"
    expected = yaml.safe_load(path.read_text())["x-expected-warnings"]
    api = load_api(path)
    reported = [str(p) for p in api.warnings]
    for fragment in expected:
        assert any(fragment in line for line in reported), f"{fragment!r} not among:\n" + "\n".join(reported)
    assert [op.operation_id for op in api.operations] == ["fine"]


def test_cli_prints_warnings_and_writes_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = uapi_main(["generate", "--lang", "python", "--spec", str(PROBES / "unsupported.yaml"), "--out", str(out)])
    assert code == 0
    assert "warning: #/components/schemas/External" in capsys.readouterr().err
    assert (out / "probe_unsupported_client" / "client.py").is_file()


def test_names_come_from_the_title_or_the_flags(tmp_path: Path) -> None:
    files = generate("python", PROBES / "names.yaml")
    assert "probe_names_client/client.py" in files and "class ProbeNamesError(Exception)" in files[
        "probe_names_client/errors.py"]
    ts = generate("typescript", PROBES / "names.yaml", package_name="acme_sdk", client_name="Acme")
    assert '"name": "acme-sdk"' in ts["package.json"] and "export class AcmeClient" in ts["src/index.ts"]
    assert "uapi_client/client.py" in generate("python", SPEC)


def test_cli_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ts"
    args = ["generate", "--lang", "typescript", "--spec", str(SPECS / "mini.yaml"), "--out", str(out)]
    assert uapi_main(args) == 0
    assert (out / "src" / "index.ts").is_file() and (out / MANIFEST).is_file()
    assert uapi_main([*args, "--check"]) == 0
    (out / "src" / "index.ts").write_text("// edited\n")
    assert uapi_main([*args, "--check"]) == 1
    assert "out of date" in capsys.readouterr().err


def test_regeneration_removes_only_files_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "py"
    write_tree({"a.py": "a\n", "b.py": "b\n", MANIFEST: "a.py\nb.py\n"}, out)
    (out / "mine.txt").write_text("kept")
    write_tree({"a.py": "a\n", MANIFEST: "a.py\n"}, out)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "a.py", "mine.txt"]


def test_templates_override_single_files(tmp_path: Path) -> None:
    (tmp_path / "README.md.j2").write_text("# {{ api.title }} — custom\n")
    files = generate("python", SPECS / "mini.yaml", tmp_path)
    assert files["README.md"] == "# Mini Things — custom\n"
    assert files["mini_things_client/models.py"] == generate("python", SPECS / "mini.yaml")["mini_things_client/models.py"]


def test_templates_override_by_file_name_when_unambiguous(tmp_path: Path) -> None:
    (tmp_path / "errors.py.j2").write_text("# errors of {{ api.title }}\n")
    assert generate("python", SPECS / "mini.yaml", tmp_path)["mini_things_client/errors.py"] == "# errors of Mini Things\n"


def test_templates_override_must_match_a_template(tmp_path: Path) -> None:
    (tmp_path / "READ_ME.md.j2").write_text("x")
    with pytest.raises(CodegenError, match="'READ_ME.md.j2' matches none of the built-in python templates"):
        generate("python", SPECS / "mini.yaml", tmp_path)


def test_typescript_source_override_flows_into_the_js_build(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.ts.j2").write_text("export const answer⟪: number⟫ = 42;\n")
    files = generate("typescript", SPECS / "mini.yaml", tmp_path)
    assert files["src/index.ts"] == "export const answer: number = 42;\n"
    assert files["dist/index.js"].endswith("export const answer = 42;\n")


def test_typescript_js_output_has_no_types() -> None:
    files = generate("typescript", SPECS / "mini.yaml")
    assert "export interface" in files["src/index.ts"]
    assert "export interface" not in files["dist/index.js"]
    assert "⟪" not in files["src/index.ts"] + files["dist/index.js"]


@pytest.mark.parametrize("root", [GENERATED / "python", GOLDEN / "mini" / "python"], ids=["uapi", "mini"])
def test_python_client_passes_mypy_strict(root: Path, tmp_path: Path, mypy: tuple[list[str], dict[str, str]]) -> None:
    command, env = mypy
    # A copy, so mypy does not read the golden tree as part of the `tests` package.
    package = next(p.parent.name for p in root.glob("*/py.typed"))
    shutil.copytree(root / package, tmp_path / package)
    result = subprocess.run([*command, "--strict", "--no-incremental", package],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("root", [GENERATED / "typescript", GOLDEN / "mini" / "typescript"], ids=["uapi", "mini"])
def test_typescript_client_passes_tsc_strict(root: Path, tsc: list[str], node: str) -> None:
    # The package's own tsconfig: strict plus exactOptionalPropertyTypes, noUncheckedIndexedAccess, ...
    result = subprocess.run([*tsc, "-p", str(root / "tsconfig.json")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    check = subprocess.run([node, "--check", str(root / "dist" / "index.js")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_schema_names_that_would_shadow_client_code_are_renamed() -> None:
    files = generate("python", PROBES / "names.yaml")
    models = files["probe_names_client/models.py"]
    assert "class ClientModel:" in models and "ProbeNamesErrorModel" in models
    ts = generate("typescript", PROBES / "names.yaml")["src/index.ts"]
    assert "export interface GetClassByFromParamsModel" in ts and "export interface GetClassByFromParams " in ts
