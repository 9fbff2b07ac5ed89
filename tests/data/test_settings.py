"""homodyne_data.settings: the value rules of YAML settings and the error descriptions."""

import pytest
from pydantic import Field, ValidationError
from pydantic.dataclasses import dataclass

from homodyne_data.settings import (
    Flag,
    Integer,
    Number,
    describe_errors,
    raise_as,
    settings_config,
)
from homodyne_physics import HomodyneError


class DemoError(HomodyneError, ValueError):
    pass


def _error(cls, exc):
    return DemoError(
        "; ".join(f"{'.'.join(map(str, k))}: {m}" for k, m in describe_errors(cls, exc))
    )


@raise_as(_error)
@dataclass(frozen=True, config=settings_config())
class Demo:
    rate: Number = Field(1.0, gt=0, description="per second")
    steps: Integer = Field(10, ge=1)
    on: Flag = False
    names: tuple[str, ...] | dict[str, Number] | None = None


def test_yaml_value_rules():
    assert Demo(rate="1e-8").rate == 1e-8  # YAML 1.1 reads 1e-8 as text
    assert Demo(steps=2.0).steps == 2 and Demo(rate=3).rate == 3.0
    for bad, text in [
        ({"rate": True}, "rate: expected a number, got boolean True"),
        ({"rate": float("inf")}, "rate: must be finite, got inf"),
        ({"rate": -1.0}, "rate: must be > 0.0, got -1.0"),
        ({"steps": 2.5}, "steps: expected an integer, got number 2.5"),
        ({"steps": True}, "steps: expected an integer, got boolean True"),
        ({"on": "yes"}, "on: expected true or false, got text 'yes'"),
        ({"names": 5}, "names: expected a list or a mapping, got integer 5"),
        ({"names": {"a": "x"}}, "names.a: expected a number, got text 'x'"),
        ({"stpes": 1}, "stpes: unknown key; did you mean 'steps'?"),
    ]:
        with pytest.raises(DemoError) as exc:
            Demo(**bad)
        assert str(exc.value) == text


def test_every_problem_at_once_from_the_validator():
    with pytest.raises(ValidationError) as exc:
        Demo.__pydantic_validator__.validate_python({"rate": 0, "steps": 0})
    assert describe_errors(Demo, exc.value) == [
        (("rate",), "must be > 0.0, got 0"),
        (("steps",), "must be >= 1, got 0"),
    ]
