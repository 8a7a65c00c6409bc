"""The audit action registry: every action is declared once, with its meaning and sentence.

Each package declares the actions it records in its own ``audit_actions.py``
(imported by its ``AppConfig.ready``)::

    from audit.registry import declare

    declare(
        "staff.role_changed",
        target="accounts.user",
        description=_("A staff member's role was changed."),
        sentence=_("%(actor)s changed %(target)s's role from %(role_before)s to %(role_after)s"),
    )

``audit.services.record`` refuses an undeclared action, so a typo cannot create
an action that no filter or report knows. The audit page and exports show an
event as its sentence (``sentence_for``), in the reader's language: the
template may use ``%(actor)s``, ``%(target)s``, ``%(impersonator)s`` and, for
each entry of the event's changes, ``%(key)s`` (a plain value) or
``%(key_before)s`` / ``%(key_after)s`` (a ``{"before", "after"}`` pair or a
``[before, after]`` list).
"""

import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _


class UndeclaredAction(LookupError):
    """``record`` was called with an action that no package declared."""


@dataclass(frozen=True)
class Action:
    name: str
    target: str  # the target's type ("accounts.user"), "" when there is none
    description: str | Promise
    sentence: str | Promise
    # Turns one change value into what a person reads (a role's label, yes/no...).
    display: Callable[[str, Any], str] | None = None
    # The module that declared it (``accounts.audit_actions``).
    source: str = ""

    @property
    def group(self) -> str:
        """The entity part of the name (``staff`` of ``staff.invited``)."""
        return self.name.split(".", 1)[0]


_actions: dict[str, Action] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def declare(
    name: str,
    *,
    target: str,
    description: str | Promise,
    sentence: str | Promise,
    display: Callable[[str, Any], str] | None = None,
) -> Action:
    """Declare ``name`` (``<entity>.<past-tense verb>``). Declaring it twice is an error."""
    entity, _sep, verb = name.partition(".")
    if not entity or not verb or name != name.lower():
        raise ValueError(f"audit action {name!r} is not <entity>.<verb> in lower case")
    if name in _actions:
        raise ValueError(f"audit action {name!r} is declared twice")
    # Who declared it (a package's ``audit_actions``, or a test), for the README's table.
    source = sys._getframe(1).f_globals.get("__name__", "")
    action = Action(name, target, description, sentence, display, source)
    _actions[name] = action
    return action


def get(name: str) -> Action:
    try:
        return _actions[name]
    except KeyError:
        raise UndeclaredAction(
            f"audit action {name!r} is not declared: add it to its package's audit_actions.py"
        ) from None


def is_declared(name: str) -> bool:
    return name in _actions


def all_actions() -> list[Action]:
    """Every declared action, sorted by name."""
    return sorted(_actions.values(), key=lambda a: a.name)


def groups() -> dict[str, list[Action]]:
    """Declared actions by group (``auth``, ``staff``...), both sorted."""
    result: dict[str, list[Action]] = {}
    for action in all_actions():
        result.setdefault(action.group, []).append(action)
    return result


def matching(query: str) -> list[str]:
    """Action names that a filter word means: an exact name, a group (``auth`` or
    ``auth.``), or a prefix of names."""
    query = query.strip().lower()
    if not query:
        return []
    if query in _actions:
        return [query]
    prefix = query if query.endswith(".") else f"{query}."
    names = [n for n in _actions if n.startswith(prefix)]
    return names or [n for n in _actions if n.startswith(query)]


class _Params(dict):
    """Sentence parameters; a name the event lacks shows as an ellipsis, not an error."""

    def __missing__(self, key: str) -> str:
        return "…"


def _pair(value: Any) -> tuple[Any, Any] | None:
    if isinstance(value, Mapping) and set(value) == {"before", "after"}:
        return value["before"], value["after"]
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None


def pair_of(value: Any) -> tuple[Any, Any] | None:
    """``(before, after)`` of a change value that is such a pair, else None."""
    return _pair(value)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) or "—"
    return str(value)


def display_value(action: str, key: str, value: Any) -> str:
    """One change value as people read it: the action's ``display`` when it has one
    (a role's name...), else yes/no for booleans, lists joined, "—" for nothing."""
    declared = _actions.get(action)
    if isinstance(value, list | tuple):
        return ", ".join(display_value(action, key, v) for v in value) or "—"
    if declared is not None and declared.display is not None:
        return declared.display(key, value)
    return _show(value)


def sentence_for(
    *,
    action: str,
    actor: str,
    target: str = "",
    impersonator: str = "",
    changes: Mapping[str, Any] | None = None,
    show: Callable[[Any], str] = _show,
) -> str:
    """The event as a sentence in the active language; an undeclared action (an old
    event of an action since removed) reads as its name."""
    declared = _actions.get(action)
    if declared is None:
        return f"{actor}: {action} {target}".strip()
    params = _Params(actor=actor, target=target or "—", impersonator=impersonator)
    for key, value in (changes or {}).items():
        pair = _pair(value)
        render = (lambda v, k=key: declared.display(k, v)) if declared.display else show
        if pair is not None:
            params[f"{key}_before"], params[f"{key}_after"] = render(pair[0]), render(pair[1])
        else:
            params[key] = render(value)
    return str(declared.sentence) % params


class SentenceCache:
    """``sentence_for`` for many events in one language (an export): each action's
    translated sentence and each (action, key, value) shown once, not once per event
    (a translation lookup costs far more than the formatting)."""

    def __init__(self) -> None:
        self._sentences: dict[str, str] = {}
        self._values: dict[tuple, str] = {}

    def _template(self, action: str) -> str:
        self._sentences[action] = template = str(_actions[action].sentence)
        return template

    def needs_changes(self, action: str) -> bool:
        """Whether the action's sentence shows any of the event's changes (most do not:
        an export then need not parse them)."""
        if action not in _actions:
            return False
        template = self._sentences.get(action) or self._template(action)
        return bool(set(_PLACEHOLDER.findall(template)) - {"actor", "target", "impersonator"})

    def _value(self, declared: Action, key: str, value: Any) -> str:
        try:
            memo = (declared.name, key, value, type(value))
            hash(memo)
        except TypeError:  # lists and dicts: not worth a key
            return declared.display(key, value) if declared.display else _show(value)
        shown = self._values.get(memo)
        if shown is None:
            shown = declared.display(key, value) if declared.display else _show(value)
            self._values[memo] = shown
        return shown

    def sentence_for(
        self,
        *,
        action: str,
        actor: str,
        target: str = "",
        impersonator: str = "",
        changes: Mapping[str, Any] | None = None,
    ) -> str:
        declared = _actions.get(action)
        if declared is None:
            return f"{actor}: {action} {target}".strip()
        template = self._sentences.get(action) or self._template(action)
        params = _Params(actor=actor, target=target or "—", impersonator=impersonator)
        for key, value in (changes or {}).items():
            pair = _pair(value)
            if pair is not None:
                params[f"{key}_before"] = self._value(declared, key, pair[0])
                params[f"{key}_after"] = self._value(declared, key, pair[1])
            else:
                params[key] = self._value(declared, key, value)
        return template % params


def names(actions: Iterable[Action] | None = None) -> list[str]:
    return [a.name for a in (actions if actions is not None else all_actions())]
