"""Typed registry lookups: an entry loads as what its accessor promises, or the error names the table line."""

from __future__ import annotations

import collections
import os.path

import pytest

from fcdd import registry

TABLE: dict[str, registry.Entry] = {
    "ordered": "collections:OrderedDict",  # a class
    "join": "os.path:join",  # a function
    "sep": "os.path:sep",  # a str instance
    "three": 3,  # an object registered as itself
}


def test_each_lookup_returns_the_loaded_entry():
    assert registry.lookup_class(TABLE, "ordered", "thing", dict) is collections.OrderedDict
    assert registry.lookup_function(TABLE, "join", "thing") is os.path.join
    assert registry.lookup(TABLE, "sep", "thing", str) == os.path.sep
    assert registry.lookup(TABLE, "three", "thing", int) == 3


@pytest.mark.parametrize(
    ("lookup", "name", "message"),
    [
        (lambda n: registry.lookup(TABLE, n, "thing", int), "sep",
         "thing 'sep' is registered as 'os.path:sep', which loads a str, not an instance of int"),
        (lambda n: registry.lookup(TABLE, n, "thing", int), "ordered", "loads a type, not an instance of int"),
        (lambda n: registry.lookup_class(TABLE, n, "thing", list), "ordered", "loads a type, not a subclass of list"),
        (lambda n: registry.lookup_class(TABLE, n, "thing", dict), "three",
         "thing 'three' is registered as 3, which loads a int, not a subclass of dict"),
        (lambda n: registry.lookup_function(TABLE, n, "thing"), "sep", "loads a str, not a function"),
    ],
)  # fmt: skip
def test_an_entry_of_another_type_is_a_type_error_naming_its_registration(lookup, name, message):
    with pytest.raises(TypeError, match=message):
        lookup(name)


def test_an_unknown_name_is_a_value_error_with_the_closest_known_one():
    for lookup in (
        lambda: registry.lookup(TABLE, "thre", "thing", int),
        lambda: registry.lookup_class(TABLE, "thre", "thing", int),
        lambda: registry.lookup_function(TABLE, "thre", "thing"),
    ):
        with pytest.raises(ValueError, match=r"unknown thing 'thre' \(did you mean 'three'\?\); choose one of join, "):
            lookup()
