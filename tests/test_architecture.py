"""The house's rules, read from the source with `ast` (nothing of the app is imported or run).

- pages/ never import SQLAlchemy: they call the services, which own the queries;
- only pvd_survey/ui/, pvd_survey/web.py, pages/ and the entry scripts import Streamlit;
- no page shows anything by Streamlit's "magic" (switched off in .streamlit/config.toml: it made every new session
  rewrite each page's syntax tree), so a bare expression in a page would silently show nothing;
- no module of pvd_survey/ is over MAX_CODE_LINES lines of code, except those of BEING_SPLIT;
- every module of pvd_survey/ sits in one layer of LAYERS, and imports (at the top or inside a function) only
  modules of lower layers or of its own package; no two modules import each other, directly or in a circle.

A new module fails `test_every_module_has_a_layer` until it is placed in LAYERS; the failure says between which
layers it fits, from what it imports and what imports it.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_independent  # reads files only: run once, on SQLite (see conftest)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pvd_survey"
ENTRY_SCRIPTS = ("streamlit_app.py", "main_page.py")

# The layers of pvd_survey/, lowest first: a module may import modules of lower layers and of its own package,
# never of its own layer or above. A name is a top-level module (`mail` for pvd_survey/mail.py) or package
# (`meetings` for pvd_survey/meetings/, all its modules); `__init__` is pvd_survey/__init__.py itself.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "kernel: imports no other module",
        (
            "__init__",
            "errors",
            "config",
            "clock",
            "french",
            "vocabulary",
            "territory",
            "access",
            "disclosure",
            "exports",
            "links",
            "drawing",
        ),
    ),
    ("e-mail addresses and the password policy", ("credentials",)),
    ("storage: tables, the engine, the survey's questions", ("models", "db", "survey_questions")),
    ("the outbox", ("mail",)),
    ("accounts and organisations", ("accounts",)),
    ("domains", ("meetings", "survey", "sessions", "notifications")),
    ("services built on the domains", ("recruitment", "privacy", "stats")),
    ("what every chart shares", ("chart_style",)),
    ("figures, demo data and scheduled work", ("overview", "charts", "home", "schedule", "demo")),
    ("the live dashboard's figures and the steering committee's report", ("dashboard", "report")),
    ("benchmarks", ("bench",)),
    ("the command line", ("cli",)),
    ("python -m pvd_survey", ("__main__",)),
    ("the web layer around Streamlit", ("web",)),
    ("what the pages share", ("ui",)),
]

# Lines holding code: blank lines, comments and docstrings are not counted, so that documenting a module never
# pushes it over (counted by `wc -l`, models.py, demo.py and charts.py would be over 500 today, with 351, 450 and
# 391 lines of code).
MAX_CODE_LINES = 500

# Modules allowed over MAX_CODE_LINES while a change splits them into a package (path: where to), none today. An
# entry fails the test as soon as its file is gone or back under the limit, so the list cannot go stale.
BEING_SPLIT: dict[str, str] = {}

# Import circles known today, each to be broken by its own change. An entry fails the test once its circle is gone.
KNOWN_CYCLES: set[frozenset[str]] = set()


# ---------------------------------------------------------------------------- reading the source


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it is written."""

    path: Path
    line: int
    target: str  # dotted name of the module imported (`from a import b`: a.b when it is a module, else a)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def package_modules() -> dict[str, Path]:
    """Every module of pvd_survey/ by dotted name (a package by its own name, for its __init__.py)."""
    return {_module_name(path): path for path in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _existing(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of a dotted name that is a module of the package (else the name itself)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return name


def imports(path: Path) -> list[Import]:
    """Every import in a file, at the top or nested in a function, class or `if`, with its resolved target."""
    modules = package_modules()
    own = _module_name(path)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, _existing(alias.name, modules)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the file's package, one level up per extra dot
                base_parts = own.split(".") if is_package else own.split(".")[:-1]
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else _existing(base, modules)
                found.append(Import(path, node.lineno, target))
    return found


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            if is_docstring and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skipped:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def _top(name: str) -> str:
    return name.split(".")[0]


def component(module: str) -> str:
    """The LAYERS name of a module of the package: its top-level module or package, `__init__` for the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of() -> dict[str, int]:
    return {name: index for index, (_, names) in enumerate(LAYERS) for name in names}


def _layer_label(index: int) -> str:
    if index < 0:
        return "the bottom"
    if index >= len(LAYERS):
        return "the top"
    return f"layer {index} ({LAYERS[index][0]})"


def _app_files() -> list[Path]:
    """The project's Python files apart from the tests: the package, the pages, the entry scripts, migrations."""
    files = sorted(ROOT.glob("*.py"))
    for folder in (PACKAGE, "pages", "db"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def _package_imports() -> list[tuple[str, Import]]:
    """(importing module, import) for every import of a package module by a package module."""
    return [
        (module, found)
        for module, path in package_modules().items()
        for found in imports(path)
        if _top(found.target) == PACKAGE and found.target != module
    ]


# ---------------------------------------------------------------------------- the rules


def test_pages_never_import_sqlalchemy() -> None:
    offending = [
        f"{found.where} imports {found.target}: a page calls the services, which own the queries"
        for path in sorted((ROOT / "pages").rglob("*.py"))
        for found in imports(path)
        if _top(found.target) == "sqlalchemy"
    ]
    assert not offending, "\n".join(offending)


# The benchmark's client on the wire speaks Streamlit's protocol: its protobuf messages, not the runtime.
WIRE_CLIENT = ROOT / PACKAGE / "bench" / "streamlit_client.py"


def test_only_ui_web_pages_and_the_entry_scripts_import_streamlit() -> None:
    allowed = {ROOT / PACKAGE / "web.py", *(ROOT / PACKAGE / "ui").glob("*.py")} | {ROOT / n for n in ENTRY_SCRIPTS}
    offending = [
        f"{found.where} imports {found.target}: only pvd_survey/ui/, pvd_survey/web.py, pages/ and "
        f"{', '.join(ENTRY_SCRIPTS)} may (services must run without Streamlit)"
        for path in _app_files()
        if path not in allowed and path.relative_to(ROOT).parts[0] != "pages"
        for found in imports(path)
        if _top(found.target) == "streamlit"
        and not (path == WIRE_CLIENT and found.target.startswith("streamlit.proto."))
    ]
    assert not offending, "\n".join(offending)


def _magic_writes(path: Path, root: Path = ROOT) -> list[str]:
    """The statements of a script that Streamlit's magic would have written on the page."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body
    }
    return [
        f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)[:60]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and not isinstance(node.value, ast.Call | ast.Await | ast.Yield | ast.YieldFrom)
        and not (id(node) in docstrings and isinstance(node.value, ast.Constant))
        and not (isinstance(node.value, ast.Constant) and node.value.value is Ellipsis)
    ]


def test_no_page_relies_on_streamlit_magic() -> None:
    config = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "magicEnabled = false" in config
    scripts = [ROOT / name for name in ENTRY_SCRIPTS] + sorted((ROOT / "pages").rglob("*.py"))
    offending = [write for path in scripts for write in _magic_writes(path)]
    assert not offending, "shown by magic, which is off (write st.write(...)):\n" + "\n".join(offending)


def test_the_magic_check_finds_a_bare_expression(tmp_path: Path) -> None:
    page = tmp_path / "probe.py"
    page.write_text('"""Docstring: not shown."""\nimport streamlit as st\nst.title("x")\ncount = 3\ncount\n"Shown"\n')
    assert _magic_writes(page, tmp_path) == ["probe.py:5: count", "probe.py:6: 'Shown'"]


def test_no_module_over_the_size_limit() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:1 has {size} lines of code (without blank lines, comments and docstrings), "
        f"over {MAX_CODE_LINES}: split it"
        for path in package_modules().values()
        if (size := code_lines(path)) > MAX_CODE_LINES and str(path.relative_to(ROOT)) not in BEING_SPLIT
    ]
    assert not offending, "\n".join(offending)


def test_the_modules_being_split_are_still_over_the_limit() -> None:
    stale = []
    for name, split in BEING_SPLIT.items():
        path = ROOT / name
        if not path.exists():
            stale.append(f"{name}:1 no longer exists (split {split}): remove it from BEING_SPLIT")
        elif (size := code_lines(path)) <= MAX_CODE_LINES:
            stale.append(f"{name}:1 has {size} lines of code, within {MAX_CODE_LINES}: remove it from BEING_SPLIT")
    assert not stale, "\n".join(stale)


def test_every_module_has_a_layer() -> None:
    layers = layer_of()
    problems = []
    named = [name for _, names in LAYERS for name in names]
    problems += [f"LAYERS names {name!r} twice" for name in sorted({n for n in named if named.count(n) > 1})]
    components: dict[str, Path] = {}
    for module, path in package_modules().items():
        components.setdefault(component(module), path)
    problems += [
        f"LAYERS names {name!r}, which is no module of pvd_survey/: remove it"
        for name in layers
        if name not in components
    ]
    uses: dict[str, set[str]] = defaultdict(set)  # component -> components it imports
    for module, found in _package_imports():
        if component(found.target) != component(module):
            uses[component(module)].add(component(found.target))
    for name, path in sorted(components.items()):
        if name in layers:
            continue
        users = sorted(user for user, used in uses.items() if name in used)
        top_import = max((layers[used] for used in uses[name] if used in layers), default=-1)
        bottom_user = min((layers[user] for user in users if user in layers), default=len(LAYERS))
        if top_import + 2 == bottom_user:
            where = f"{_layer_label(top_import + 1)} (or a new layer beside it)"
        elif top_import + 1 < bottom_user:
            where = f"one of the layers {top_import + 1} to {bottom_user - 1} (or a new layer among them)"
        elif top_import + 1 == bottom_user:
            where = f"a new layer between {_layer_label(top_import)} and {_layer_label(bottom_user)}"
        else:
            where = (
                f"no layer yet (it imports from layer {top_import}, layer {bottom_user} imports it): move those first"
            )
        problems.append(
            f"{path.relative_to(ROOT)}:1 ({name!r}) is in no layer: add it to LAYERS in tests/test_architecture.py, in "
            f"{where}: above what it imports ({', '.join(sorted(uses[name])) or 'nothing'}), below what imports it "
            f"({', '.join(users) or 'nothing'})"
        )
    assert not problems, "\n".join(problems)


def test_nothing_imports_upwards() -> None:
    layers = layer_of()
    offending = []
    for path in package_modules().values():
        for found in imports(path):
            if _top(found.target) in ("pages", *(Path(script).stem for script in ENTRY_SCRIPTS)):
                offending.append(f"{found.where} imports {found.target}: the app's pages and scripts sit above it")
    for module, found in _package_imports():
        source, target = component(module), component(found.target)
        if source == target or source not in layers or target not in layers:  # own package; unplaced: see above
            continue
        if layers[target] >= layers[source]:
            offending.append(
                f"{found.where} imports {found.target}, of {_layer_label(layers[target])}, from "
                f"{_layer_label(layers[source])}: a module imports only lower layers and its own package"
            )
    assert not offending, "\n".join(offending)


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan), each a set of modules importing in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycle_between_modules() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, found in _package_imports():
        edges[module].add(found.target)
        where[(module, found.target)].append(found.where)
    cycles = _cycles(edges)
    problems = [
        "import circle between "
        + ", ".join(sorted(group))
        + ": "
        + "; ".join(
            f"{place} imports {target}"
            for (source, target), places in sorted(where.items())
            if source in group and target in group
            for place in places
        )
        for group in cycles
        if frozenset(group) not in KNOWN_CYCLES
    ]
    found = {frozenset(group) for group in cycles}
    problems += [
        f"KNOWN_CYCLES lists {', '.join(sorted(known))}, which no longer import in a circle: remove the entry"
        for known in KNOWN_CYCLES
        if known not in found
    ]
    assert not problems, "\n".join(problems)
