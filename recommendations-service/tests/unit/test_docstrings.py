"""The examples in the service's docstrings hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import recommendations

# __main__ starts a server when imported.
MODULES = [
    module.name
    for module in pkgutil.walk_packages(recommendations.__path__, "recommendations.")
    if not module.name.endswith(".__main__")
]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_hold(name: str) -> None:
    failed, _tried = doctest.testmod(importlib.import_module(name))
    assert not failed


def test_examples_are_found() -> None:
    finder = doctest.DocTestFinder()
    found = (finder.find(importlib.import_module(name)) for name in MODULES)
    assert sum(len(test.examples) for tests in found for test in tests)
