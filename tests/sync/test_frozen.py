"""quick_init: a frozen dataclass keeps all it was, with a quicker __init__."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from sync.frozen import quick_init
from sync.hlc import Timestamp
from sync.protocol import Mutation, MutationResult, Op, RecordState, Status
from sync.records import ChangeEntry, Current


@quick_init
@dataclasses.dataclass(frozen=True, order=True)
class Sample:
    name: str
    count: int = 3
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, order=True)
class Plain:  # the same class as the dataclass generates it
    name: str
    count: int = 3
    tags: list[str] = dataclasses.field(default_factory=list)


CALLS = [
    (("a",), {}),
    (("a", 5), {}),
    (("a",), {"tags": ["x"]}),
    ((), {"name": "b", "count": 0, "tags": []}),
    (("a",), {"count": 7}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_it_builds_what_the_dataclass_builds(args, kwargs):
    quick, plain = Sample(*args, **kwargs), Plain(*args, **kwargs)
    assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
    assert repr(quick) == repr(plain).replace("Plain", "Sample")


def test_each_instance_gets_its_own_factory_default():
    first, second = Sample("a"), Sample("b")
    assert first.tags == [] and first.tags is not second.tags


@pytest.mark.parametrize(("args", "kwargs"), [((), {}), (("a", 1, [], 9), {}),
                                              (("a",), {"name": "b"}), (("a",), {"x": 1})])
def test_wrong_arguments_fail_as_they_would_for_the_dataclass(args, kwargs):
    with pytest.raises(TypeError):
        Plain(*args, **kwargs)
    with pytest.raises(TypeError):
        Sample(*args, **kwargs)


def test_it_stays_frozen_comparable_hashable_and_replaceable():
    sample = Sample("a", 1, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.name = "b"  # type: ignore[misc]
    assert sample == Sample("a", 1, ()) and hash(sample) == hash(Sample("a", 1, ()))
    assert Sample("a", 1) < Sample("a", 2) < Sample("b", 0)
    assert dataclasses.replace(sample, count=2) == Sample("a", 2, ())
    assert pickle.loads(pickle.dumps(sample)) == sample


@pytest.mark.parametrize("cls", [Mutation, RecordState, MutationResult, Timestamp, Current,
                                 ChangeEntry])
def test_the_engines_value_types_use_it(cls):
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    assert "_quick_dict" in cls.__init__.__code__.co_varnames


def test_the_engines_value_types_keep_their_defaults():
    assert Mutation(1, "account", "x", Op.CREATE) == Mutation(
        1, "account", "x", Op.CREATE, None, {}, {}, None)
    result = MutationResult(1, Status.APPLIED, "account", "x")
    assert (result.record, result.conflicts, result.error) == (None, (), None)


def test_it_refuses_what_it_cannot_serve_alike():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        name: str

    @dataclasses.dataclass
    class Mutable:
        name: str

    @dataclasses.dataclass(frozen=True)
    class PostInit:
        name: str

        def __post_init__(self):
            pass

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class KeywordOnly:
        name: str

    for cls in (Slotted, Mutable, PostInit, KeywordOnly, str):
        with pytest.raises(TypeError):
            quick_init(cls)
