"""Two modules the runner's libraries import at start and a check almost never uses, loaded at
their first use instead: behave's async-step support (which imports asyncio) and requests'
character detection (charset_normalizer).

Plain behave with a `requests` step spends nearly all of a one-scenario run importing behave and
requests: these two are a seventh of it (about 22 ms of CPU of 160 here, bench/README.md), paid by
every Nagios check. behave 1.3's step registry imports `behave.async_step`, and through it asyncio,
only to wrap a step function that is a coroutine; requests imports charset_normalizer to read its
`__version__` and calls it only to guess the encoding of a body whose headers name none.

`install()`, called by the runner's coordinator before it imports behave (its workers inherit
it), puts in `sys.modules` the real module object, made from the library's own spec but not yet
executed, holding only what is read at import (the version, and a stand-in for
`AsyncStepFunction` that loads the real one when a coroutine step is registered). The first read
of any other attribute executes the module's own code into that same object, as the standard
library's `importlib.util.LazyLoader` does: from then on it is the library's module, and whoever
held it holds the real thing. Submodules import as usual (the package's `__path__` is set). A
module that is already loaded, or whose file cannot be found as expected, is left alone: the
only cost of a surprise is the time saved.
"""

from __future__ import annotations

import _thread
import importlib.util
import os
import sys
import types
from collections.abc import Callable
from importlib.machinery import ModuleSpec, SourceFileLoader
from typing import Any

_LOCK = _thread.RLock()


class _Deferred(types.ModuleType):
    """A module whose code runs at the first read of an attribute it does not hold yet."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(name)  # the import system's probes (`__path__`) are not a use
        return getattr(load(self), name)


def load(module: types.ModuleType) -> types.ModuleType:
    """Run a deferred module's own code into it (once); any module is returned as it is."""
    with _LOCK:
        if isinstance(module, _Deferred):
            _execute(module)
    return module


def _execute(module: types.ModuleType) -> None:
    module.__class__ = types.ModuleType  # before its code runs: it may read itself
    spec = module.__spec__
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(module)


def install() -> None:
    """Defer behave's async-step support and requests' character detection, if not loaded."""
    _defer("charset_normalizer", None, _charset_normalizer)
    _defer("async_step", "behave", _async_step)


def _defer(name: str, package: str | None,
           preset: Callable[[types.ModuleType], dict[str, Any] | None]) -> None:
    full = f"{package}.{name}" if package else name
    if full in sys.modules or (package and package in sys.modules):
        return
    spec = _spec(name, package)
    if spec is None:
        return
    module = importlib.util.module_from_spec(spec)
    values = preset(module)
    if values is None:
        return
    module.__dict__.update(values)
    module.__class__ = _Deferred
    sys.modules[full] = module


def _spec(name: str, package: str | None) -> ModuleSpec | None:
    """The spec of a top-level module, or of a source file in a package, found without running
    any of the package's code (finding `behave.async_step` the usual way imports behave, whose
    `__init__` imports the step registry, which imports async_step)."""
    try:
        top = importlib.util.find_spec(package or name)
    except (ImportError, ValueError):
        return None
    if top is None or top.loader is None or not top.submodule_search_locations:
        return None
    if package is None:
        return top if isinstance(top.loader, SourceFileLoader) else None
    path = os.path.join(_directory(top), f"{name}.py")
    if not os.path.isfile(path):
        return None
    return importlib.util.spec_from_file_location(f"{package}.{name}", path)


def _directory(package: ModuleSpec) -> str:
    """The directory of a package's files."""
    return next(iter(package.submodule_search_locations or ()))


def _charset_normalizer(module: types.ModuleType) -> dict[str, Any] | None:
    """`__version__`, read from the package's version file (requests checks it at import)."""
    assert module.__spec__ is not None
    path = os.path.join(_directory(module.__spec__), "version.py")
    spec = importlib.util.spec_from_file_location("charset_normalizer.version", path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        return None
    version = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(version)
    except Exception:
        return None
    found = getattr(version, "__version__", None)
    if not isinstance(found, str):
        return None
    sys.modules["charset_normalizer.version"] = version  # what the package's own import finds
    return {"__version__": found, "version": version}


def _async_step(module: types.ModuleType) -> dict[str, Any]:
    """The one name behave's step registry imports from it."""

    def AsyncStepFunction(func: Any, **kwargs: Any) -> Any:  # behave's name for it
        return load(module).AsyncStepFunction(func, **kwargs)

    return {"AsyncStepFunction": AsyncStepFunction}
