"""Records, and reading JSON-shaped data (events, payloads, DynamoDB items, settings) into them.

Why not pydantic in the Lambda steps, nor even `@dataclass`: bench/coldstart.py measured that
importing pydantic and building models cost the paging steps more cold start than issue 7's
whole budget, and that `@dataclass` (which compiles an `__init__`, `__repr__` and `__eq__` per
class) still cost ingest about 16 ms for its 23 classes. A `Record` subclass is declared like a
dataclass (type checkers treat it as one: PEP 681) but its methods are generic, so declaring
one costs microseconds.

Its annotations say what a value may be, `Annotated[..., Rule(...)]` adds lengths, bounds and
the JSON key, and `__post_init__` holds any other check (raise ValueError). `parse` checks a
value against the class and names the path of every problem (`detail.state.value: required`),
so callers turn bad input into one typed error (shared/errors.py) instead of a KeyError later.
Annotations are resolved on a class's first `parse`, not when it is declared.

Coercion is deliberately narrow: an int field also takes an integral Decimal (DynamoDB) or a
numeric string (environment variables); a set field takes a list; a datetime an ISO-8601
string; nothing else is converted. Unknown keys are ignored unless the class sets
`FORBID_EXTRA = True`.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
    get_type_hints,
)

from shared.timeutil import parse_time

Path = tuple[str | int, ...]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """One field of a Record: its name and default (`parse` resolves its type)."""

    __slots__ = ("default", "default_factory", "name", "repr")

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Callable[[], Any] | Any = MISSING,
        repr: bool = True,
    ) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.repr = repr

    @property
    def required(self) -> bool:
        return self.default is MISSING and self.default_factory is MISSING


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | Any = MISSING,
    repr: bool = True,
) -> Any:
    """A field's default factory (`field(default_factory=list)`) or `repr=False`."""
    return Field(default, default_factory, repr)


class FrozenRecordError(AttributeError):
    """Assignment to a field of a frozen record."""


@dataclass_transform(kw_only_default=True, field_specifiers=(field, Field))
class Record:
    """Base of a keyword-only record: `class Resource(Record, frozen=True): type: str`.

    Equality compares the fields; a frozen record is hashable and refuses assignment."""

    _record_fields: ClassVar[tuple[Field, ...]] = ()
    _record_frozen: ClassVar[bool] = False

    def __init_subclass__(cls, *, frozen: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found = {f.name: f for f in cls._record_fields}
        for name, annotation in inspect.get_annotations(cls).items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            value = cls.__dict__.get(name, MISSING)
            spec = value if isinstance(value, Field) else Field(default=value)
            if isinstance(value, Field):
                delattr(cls, name)
            spec.name = name
            found[name] = spec
        cls._record_fields = tuple(found.values())
        cls._record_frozen = frozen or cls._record_frozen
        cls.__hash__ = Record._hash if cls._record_frozen else None  # type: ignore[assignment,method-assign]

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        for spec in cls._record_fields:
            if spec.name in values:
                value = values.pop(spec.name)
            elif spec.default_factory is not MISSING:
                value = spec.default_factory()
            elif spec.default is not MISSING:
                value = spec.default
            else:
                raise TypeError(f"{cls.__name__}() missing argument {spec.name!r}")
            object.__setattr__(self, spec.name, value)
        if values:
            raise TypeError(f"{cls.__name__}() got unexpected arguments {sorted(values)}")
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def __setattr__(self, name: str, value: Any) -> None:
        if self._record_frozen:
            raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen record")
        object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) == _values(other)

    def _hash(self) -> int:
        return hash(_values(self))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{spec.name}={getattr(self, spec.name)!r}" for spec in self._record_fields if spec.repr
        )
        return f"{type(self).__name__}({shown})"


def _values(record: Record) -> tuple[Any, ...]:
    return tuple(getattr(record, spec.name) for spec in record._record_fields)


R = TypeVar("R", bound=Record)


def replace(record: R, **changes: Any) -> R:
    """A copy of `record` with `changes` (checks in `__post_init__` run again)."""
    values = {spec.name: getattr(record, spec.name) for spec in record._record_fields}
    return type(record)(**{**values, **changes})


class Rule(Record, frozen=True):
    """Constraints of one field: `Annotated[str, Rule(min_length=1, alias="detail-type")]`.
    Lengths apply to strings and lists, bounds to numbers; `alias` is the JSON key (the field's
    own name is accepted too)."""

    min_length: int | None = None
    max_length: int | None = None
    ge: float | None = None
    le: float | None = None
    alias: str | None = None


# The commonest rule: a string that must not be empty.
NONEMPTY = Rule(min_length=1)


class SchemaError(ValueError):
    """Every problem found in one value, each with the path to it."""

    def __init__(self, problems: list[tuple[Path, str]]) -> None:
        self.problems = problems
        super().__init__(self.summary())

    def summary(self, limit: int = 5) -> str:
        """`field.path: problem; ...` for the first few problems, for humans and logs."""
        parts = [
            f"{'.'.join(str(p) for p in path) or '<root>'}: {message}"
            for path, message in self.problems[:limit]
        ]
        more = len(self.problems) - limit
        return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


class _Reader(Record, frozen=True):
    """How `parse` reads one field: the keys it may have and its resolved type."""

    name: str
    keys: tuple[str, ...]
    type: Any
    required: bool


def fields(record: Record | type[Record]) -> tuple[Field, ...]:
    """The fields of a record or record class, in declaration order (inherited first)."""
    return record._record_fields


def parse(cls: type[R], data: Any) -> R:
    """`data` (a JSON object) as a `cls`, or SchemaError listing what is wrong."""
    return _model(cls, data, ())


def dump(value: Any, *, exclude_none: bool = False) -> Any:
    """A record (and what it holds) as plain dicts, lists and values, by field name;
    `exclude_none` leaves out fields that are None (at every level)."""
    if isinstance(value, Record):
        out = {}
        for spec in value._record_fields:
            item = getattr(value, spec.name)
            if item is not None or not exclude_none:
                out[spec.name] = dump(item, exclude_none=exclude_none)
        return out
    if isinstance(value, list | tuple):
        return [dump(item, exclude_none=exclude_none) for item in value]
    if isinstance(value, dict):
        return {key: dump(item, exclude_none=exclude_none) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return set(value)
    return value


@cache
def _readers(cls: type[Record]) -> tuple[_Reader, ...]:
    """The class's fields with resolved annotations (once per class, on its first parse)."""
    hints = get_type_hints(cls, include_extras=True)
    found = []
    for spec in cls._record_fields:
        tp = hints[spec.name]
        alias = next((r.alias for r in _rules(tp) if r.alias), None)
        keys = (alias, spec.name) if alias else (spec.name,)
        found.append(_Reader(name=spec.name, keys=keys, type=tp, required=spec.required))
    return tuple(found)


def _rules(tp: Any) -> list[Rule]:
    if get_origin(tp) is Annotated:
        return [extra for extra in tp.__metadata__ if isinstance(extra, Rule)]
    return []


def _model(cls: type[R], data: Any, path: Path) -> R:
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise SchemaError([(path, f"should be an object, not {_kind(data)}")])
    problems: list[tuple[Path, str]] = []
    values: dict[str, Any] = {}
    used: set[str] = set()
    for reader in _readers(cls):  # type: ignore[arg-type]  # classes are hashable
        key = next((k for k in reader.keys if k in data), None)
        if key is None:
            if reader.required:
                problems.append(((*path, reader.keys[0]), "required"))
            continue
        used.add(key)
        try:
            values[reader.name] = _value(reader.type, data[key], (*path, key))
        except SchemaError as exc:
            problems.extend(exc.problems)
    if getattr(cls, "FORBID_EXTRA", False):
        problems.extend(((*path, str(k)), "not allowed") for k in data if k not in used)
    if problems:
        raise SchemaError(problems)
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:  # __post_init__ checks
        raise SchemaError([(path, str(exc))]) from exc


def _value(tp: Any, value: Any, path: Path) -> Any:
    origin = get_origin(tp)
    if origin is Annotated:
        out = _value(tp.__origin__, value, path)
        for rule in _rules(tp):
            _check(rule, out, path)
        return out
    if tp is Any:
        return value
    if origin is Union or origin is types.UnionType:
        return _union(get_args(tp), value, path)
    if origin is Literal:
        if any(value == option and type(value) is type(option) for option in get_args(tp)):
            return value
        allowed = ", ".join(repr(option) for option in get_args(tp))
        raise SchemaError([(path, f"should be one of {allowed}, not {value!r:.60}")])
    if origin is list or origin is set:
        return _items(origin, get_args(tp)[0], value, path)
    if origin is dict:
        return _mapping(get_args(tp), value, path)
    if isinstance(tp, type) and issubclass(tp, Record):
        return _model(tp, value, path)
    if tp in _SCALARS:
        return _SCALARS[tp](value, path)
    raise TypeError(f"shared.schema cannot read {tp!r}")  # a model bug, not bad input


def _union(options: tuple[Any, ...], value: Any, path: Path) -> Any:
    if value is None and type(None) in options:
        return None
    errors: list[SchemaError] = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _value(option, value, path)
        except SchemaError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    raise SchemaError([(path, " or ".join(str(e) for e in errors))])


def _items(origin: type, item_type: Any, value: Any, path: Path) -> Any:
    accepted = (list, tuple) if origin is list else (list, tuple, set, frozenset)
    if not isinstance(value, accepted):
        raise SchemaError([(path, f"should be a list, not {_kind(value)}")])
    out: list[Any] = []
    problems: list[tuple[Path, str]] = []
    for index, item in enumerate(value):
        try:
            out.append(_value(item_type, item, (*path, index)))
        except SchemaError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SchemaError(problems)
    return out if origin is list else set(out)


def _mapping(args: tuple[Any, ...], value: Any, path: Path) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise SchemaError([(path, f"should be an object, not {_kind(value)}")])
    key_type, item_type = args
    out: dict[Any, Any] = {}
    problems: list[tuple[Path, str]] = []
    for key, item in value.items():
        try:
            out[_value(key_type, key, (*path, str(key)))] = _value(
                item_type, item, (*path, str(key))
            )
        except SchemaError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SchemaError(problems)
    return out


def _check(rule: Rule, value: Any, path: Path) -> None:
    if isinstance(value, str | list):
        unit = "character" if isinstance(value, str) else "item"
        if rule.min_length is not None and len(value) < rule.min_length:
            raise SchemaError([(path, f"should have at least {rule.min_length} {unit}(s)")])
        if rule.max_length is not None and len(value) > rule.max_length:
            raise SchemaError([(path, f"should have at most {rule.max_length} {unit}(s)")])
    if isinstance(value, int | float):
        if rule.ge is not None and value < rule.ge:
            raise SchemaError([(path, f"should be at least {rule.ge:g}")])
        if rule.le is not None and value > rule.le:
            raise SchemaError([(path, f"should be at most {rule.le:g}")])


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _str(value: Any, path: Path) -> str:
    if isinstance(value, str):
        return value
    raise SchemaError([(path, f"should be a string, not {_kind(value)}")])


def _bool(value: Any, path: Path) -> bool:
    if isinstance(value, bool):
        return value
    raise SchemaError([(path, f"should be true or false, not {_kind(value)}")])


def _int(value: Any, path: Path) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise SchemaError([(path, f"should be a whole number, not {value!r:.60}")])


def _float(value: Any, path: Path) -> float:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    raise SchemaError([(path, f"should be a number, not {_kind(value)}")])


def _datetime(value: Any, path: Path) -> datetime:
    if isinstance(value, datetime | str):
        try:
            return parse_time(value)
        except ValueError:
            pass
    raise SchemaError([(path, f"should be an ISO-8601 time, not {value!r:.60}")])


_SCALARS: dict[Any, Any] = {
    str: _str,
    bool: _bool,
    int: _int,
    float: _float,
    datetime: _datetime,
}
