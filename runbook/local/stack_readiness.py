"""Hold a stack IN_PROGRESS until the emulator has finished creating what moto skips.

moto's CloudFormation creates a stack synchronously and reports CREATE_COMPLETE (with its
outputs) from inside CreateStack; the emulator then creates the executable state machine,
subscriptions, policies, alarms and the functions' runtime settings (cloudformation_gaps.py).
Between the two a client that waited for CREATE_COMPLETE found no state machine. On AWS the
status means every resource is live, so here a held stack stays CREATE_IN_PROGRESS (or
UPDATE_IN_PROGRESS), with no outputs and no completion event, until ``release``.

    with stack_readiness.hold("IncidentRunbook") as held:
        cloudformation.create_stack(...)   # moto creates the resources; status stays IN_PROGRESS
        fill_gaps(...)                     # the emulator's part
        held.release()                     # CREATE_COMPLETE, outputs and the event appear now
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.cloudformation.models import Stack

_lock = threading.Lock()
_held: dict[str, _Hold] = {}
_originals: dict[str, Any] = {}


@dataclass
class _Hold:
    """One stack name held: which completion moto reached while it was held."""

    stack_name: str
    stack: Any = None
    completion: str | None = None  # "create" or "update" once moto finished its part

    def release(self) -> None:
        """Let the stack complete: the status, its event and the outputs appear together."""
        with _lock:
            _held.pop(self.stack_name, None)
            stack, completion = self.stack, self.completion
            self.completion = None
        if stack is None or completion is None:
            raise RuntimeError(
                f"stack {self.stack_name} did not finish creating its resources on moto"
            )
        if completion == "create":
            _originals["mark_creation_complete"](stack)
        else:
            stack._add_stack_event("UPDATE_COMPLETE")
            stack.status = "UPDATE_COMPLETE"


def deploying() -> bool:
    """A stack is being deployed (held): its functions may not be wired to their source yet,
    so the emulator's own clocks (scheduled rules, Scheduler) wait for the next tick."""
    with _lock:
        return bool(_held)


def _held_for(stack: Any) -> _Hold | None:
    with _lock:
        return _held.get(stack.name)


def _mark_creation_complete(stack: Any) -> None:
    hold = _held_for(stack)
    if hold is None:
        _originals["mark_creation_complete"](stack)
        return
    hold.stack, hold.completion = stack, "create"
    stack.status = "CREATE_IN_PROGRESS"


def _update(stack: Any, *args: Any, **kwargs: Any) -> None:
    _originals["update"](stack, *args, **kwargs)
    hold = _held_for(stack)
    if hold is None:
        return
    # moto appended UPDATE_COMPLETE and set the status; both wait for release().
    if stack.events and stack.events[-1].resource_status == "UPDATE_COMPLETE":
        stack.events.pop()
    stack.status = "UPDATE_IN_PROGRESS"
    hold.stack, hold.completion = stack, "update"


def _outputs(stack: Any) -> list[dict[str, Any]] | None:
    """AWS reports outputs only once the stack is complete."""
    if _held_for(stack) is not None:
        return None
    getter: Callable[[Any], list[dict[str, Any]] | None] = _originals["outputs"].fget
    return getter(stack)


def install() -> None:
    """Patch moto's Stack (idempotent)."""
    with _lock:
        if _originals:
            return
        _originals["mark_creation_complete"] = Stack.mark_creation_complete
        _originals["update"] = Stack.update
        _originals["outputs"] = Stack.__dict__["outputs"]
    Stack.mark_creation_complete = _mark_creation_complete  # type: ignore[assignment,method-assign]
    Stack.update = _update  # type: ignore[assignment,method-assign]
    Stack.outputs = property(_outputs)  # type: ignore[assignment,method-assign]


def remove() -> None:
    with _lock:
        if not _originals:
            return
        Stack.mark_creation_complete = _originals.pop("mark_creation_complete")  # type: ignore[method-assign]
        Stack.update = _originals.pop("update")  # type: ignore[method-assign]
        Stack.outputs = _originals.pop("outputs")  # type: ignore[method-assign]
        _held.clear()


@contextmanager
def hold(stack_name: str) -> Iterator[_Hold]:
    """Hold ``stack_name`` IN_PROGRESS while the block runs. An error inside the block marks
    the stack CREATE_FAILED / UPDATE_FAILED with the error as the reason, so a waiter stops
    at once instead of waiting for a completion that will never come."""
    if not _originals:
        raise RuntimeError("stack_readiness.install() has not run")
    held = _Hold(stack_name)
    with _lock:
        if stack_name in _held:
            raise RuntimeError(f"stack {stack_name} is already being deployed")
        _held[stack_name] = held
    try:
        yield held
    except BaseException as err:
        if held.stack is not None and held.completion is not None:
            failed = "CREATE_FAILED" if held.completion == "create" else "UPDATE_FAILED"
            held.stack._add_stack_event(failed, resource_status_reason=str(err)[:1000])
            held.stack.status = failed
        raise
    finally:
        with _lock:
            if _held.get(stack_name) is held:
                del _held[stack_name]
