"""The kit's core survives upgrades of what it stands on, and its modules import one way.

Static checks over ``proxy/`` (parsed with ``ast``, never imported), so they hold for code no test runs:

- no private attribute of another package: an ``obj._name`` (or ``getattr(obj, "_name")``) whose name the
  kit does not define itself is Django's, Channels', asgiref's or daphne's bookkeeping, which any release
  may change; nor asgiref's ``threadlocal``, which is not its public API either (dunders are fine);
- no import cycle among the kit's modules, counting imports inside functions (they hide a cycle; they do
  not break it): the layers import one way, doors → intake → scheduling → settle → the record → foundation;
- no parameter of a module-level function that no code of the kit passes: such a parameter is a hook for tests
  (a clock, a timeout, a client) or dead. Tests reach the kit through settings and public means, as integrators do.
"""
import ast
from pathlib import Path

import proxy

PACKAGE = Path(proxy.__file__).resolve().parent
ACCESSORS = {"getattr", "setattr", "hasattr", "delattr"}
FOREIGN_BOOKKEEPING = {"threadlocal"}  # asgiref.sync.SyncToAsync.threadlocal: not public, even without "_"
# Underscored, yet documented as public: Django's Model _meta API (docs/ref/models/meta).
DOCUMENTED_PUBLIC = {"_meta"}


def modules():
    """``{dotted name: (path, tree)}`` for every module of the kit (migrations are generated; they count too)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = (path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


def is_dunder(name):
    return name.startswith("__") and name.endswith("__")


def names_defined(tree):
    """The names ``tree`` binds: functions, classes, arguments, variables, imports, and the attributes it
    assigns on ``self``/``cls``. A write to another object's attribute defines nothing."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def private_accesses(tree, own_names):
    """``(line, what)`` for each access to another package's private attribute or to asgiref's threadlocal."""
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ACCESSORS
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            name = node.args[1].value
        if name is None:
            continue
        if name in FOREIGN_BOOKKEEPING:
            yield node.lineno, name
        elif name.startswith("_") and not is_dunder(name) and name not in own_names | DOCUMENTED_PUBLIC:
            yield node.lineno, name


def test_no_private_attribute_of_another_package_is_used():
    found = modules()
    # A private name is the kit's own if its module defines it, or if it is a function or class of the kit
    # (``settlement._start``); an attribute set on ``self`` in one module is not one another module may read
    # on a class of Channels' (``cls._port`` of ChannelsLiveServerTestCase).
    kit_functions = {node.name for _, tree in found.values() for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    offences = [f"{path.relative_to(PACKAGE.parent)}:{line}: .{name}"
                for path, tree in found.values()
                for line, name in private_accesses(tree, names_defined(tree) | kit_functions)]
    assert not offences, "Private attributes of Django/Channels/asgiref/daphne (use their public API):\n" + "\n".join(offences)


def test_the_checker_sees_private_accesses():
    tree = ast.parse("request._post = x\nSyncToAsync.threadlocal.loop = 1\ngetattr(app, '_path_routing', 0)\n"
                     "self._mine = 1\nself._mine\nobj.__class__\n")
    own = names_defined(tree)
    assert sorted(name for _, name in private_accesses(tree, own)) == ["_path_routing", "_post", "threadlocal"]


def imported_modules(name, tree, known):
    """The kit's modules that ``name`` imports, at module level or inside functions."""
    package = name if (PACKAGE.parent / Path(*name.split("."))).is_dir() else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:  # "from . import settlement" imports a module; "from .x import y", x
                submodule = f"{module}.{alias.name}"
                targets.add(submodule if submodule in known else module)
    return {target for target in targets if target in known and target != name}


def import_graph():
    found = modules()
    return {name: imported_modules(name, tree, found) for name, (_, tree) in found.items()}


def find_cycles(graph):
    """Each strongly connected group of more than one module, as one concrete cycle through it."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_through(graph, group) for group in groups]


def cycle_through(graph, group):
    """A path ``a → b → … → a`` inside ``group`` (breadth first from its first member back to it)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    return sorted(group)


def test_the_kits_modules_import_one_way():
    cycles = find_cycles(import_graph())
    assert not cycles, "Import cycles in proxy/ (function-level imports count):\n" + "\n".join(
        " → ".join(cycle) for cycle in cycles)


def test_the_cycle_finder_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]


# Module-level functions others call, not the kit: Django's check framework, template tags, test helpers.
CALLED_FROM_OUTSIDE = ("proxy.checks", "proxy.templatetags.", "proxy.testing", "proxy.management.", "proxy.migrations")


def calls_by_name(found):
    """``{function name: [(positional count, keyword names, has *args/**kwargs)]}`` for every call in ``found``.
    A task is called through ``.enqueue(...)`` (after ``.using(...)`` perhaps): those count for the task's function."""
    calls = {}
    for _path, tree in found.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "enqueue" and isinstance(func, ast.Attribute):  # task[.using(...)].enqueue(...): the task
                base = func.value
                while isinstance(base, (ast.Call, ast.Attribute)):
                    base = base.func if isinstance(base, ast.Call) else base.value
                name = getattr(base, "id", name)
            spread = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
            calls.setdefault(name, []).append((len(node.args), {k.arg for k in node.keywords}, spread))
    return calls


def unpassed_parameters(found):
    """``(module, function, parameter)`` for each defaulted parameter of a module-level function that no call
    in ``found`` passes, by keyword or by position."""
    calls = calls_by_name(found)
    for module, (_path, tree) in sorted(found.items()):
        if module.startswith(CALLED_FROM_OUTSIDE):
            continue
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = node.args
            positional = args.posonlyargs + args.args
            first_defaulted = len(positional) - len(args.defaults)
            params = [(arg.arg, index) for index, arg in enumerate(positional) if index >= first_defaulted]
            params += [(arg.arg, None) for arg, default in zip(args.kwonlyargs, args.kw_defaults) if default is not None]
            for name, index in params:
                if not any(spread or name in keywords or (index is not None and count > index)
                           for count, keywords, spread in calls.get(node.name, [])):
                    yield module, node.name, name


def test_every_parameter_of_the_kits_functions_is_passed_by_the_kit():
    unpassed = set(unpassed_parameters(modules()))
    assert not unpassed, "Parameters only tests (or nobody) pass; read a setting or a constant instead:\n" + "\n".join(
        f"{module}.{function}({name}=)" for module, function, name in sorted(unpassed))


def test_the_parameter_finder_names_an_unpassed_parameter():
    tree = ast.parse("def due(grace=5, now=None, *, account=None):\n    pass\n\ndef sweep():\n    due(1, account=2)\n")
    assert list(unpassed_parameters({"proxy.sweep": (None, tree)})) == [("proxy.sweep", "due", "now")]
