"""The code follows the account panel and stays easy to read: no import cycles between the project's
modules (counting imports inside functions too, which only hide a cycle), and blueprints grouped as the
panel is (the person, the organization, administration, the API)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("blueprints", "services", "models", "migrations")
MODULES = ("app", "config", "extensions", "overrides")


def module_files():
    files = {name: ROOT / f"{name}.py" for name in MODULES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imports_of(name, path, known):
    """The project modules `name` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            # `from package import module` imports the module; `from module import name` the module itself
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return result


def import_graph():
    files = module_files()
    graph = {name: set() for name in files}
    for name, path in files.items():
        # A package's own __init__ importing its modules is how routes register; a module importing its
        # package's __init__ back would be the cycle, and that one is counted.
        graph[name] = {target for target in imports_of(name, path, files) if not target.startswith(name + ".")}
    return graph


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_cycle_finder_sees_a_cycle():
    graph = import_graph()
    graph["blueprints.person.profile"].add("blueprints.person.pictures")  # profile importing its pictures back
    assert any("blueprints.person.profile" in component for component in cycles(graph))


def test_views_live_in_their_panel_group():
    """Sign-in aside, every page's code is in the package of its panel group."""
    from app import create_app

    app = create_app({"TESTING": True})
    groups = ("blueprints.person.", "blueprints.organization.", "blueprints.admin.", "blueprints.api.")
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            assert view.__module__ == "blueprints.auth" or view.__module__.startswith(groups), (endpoint, view.__module__)
