# Gluetool.py: PyGObject overrides, so Python code reads as gluetool's own
#
# SPDX-License-Identifier: MIT
#
#     from gi.repository import Gluetool
#
#     with Gluetool.Action(label="build", tags={"target": "all"}) as action:
#         action.set_tag("stage", 2)
#         ...
#
# The action starts when it is made and finishes when the block ends. An
# exception leaving the block marks the span as an error (the Jaeger `error`
# tag, and a log with the exception's kind and message) and goes on.

from gi.repository import GLib

from ..module import get_introspection_module
from ..overrides import override

Gluetool = get_introspection_module("Gluetool")

__all__ = []


def _variant(value):
    """A tag value as the GVariant the library maps to a Jaeger tag type."""
    if isinstance(value, GLib.Variant):
        return value
    if isinstance(value, bool):
        return GLib.Variant("b", value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return GLib.Variant("x", value)
        return GLib.Variant("s", str(value))
    if isinstance(value, float):
        return GLib.Variant("d", value)
    if isinstance(value, str):
        return GLib.Variant("s", value)
    return GLib.Variant("s", str(value))


def _vardict(mapping):
    return GLib.Variant("a{sv}", {str(key): _variant(value) for key, value in mapping.items()})


class Action(Gluetool.Action):
    """An action: a piece of work with a label, a parent and tags, reported
    as a span when it finishes. Use it as a context manager, as
    gluetool.action.Action is used."""

    def __init__(self, label=None, parent=None, tags=None, **kwargs):
        super().__init__(label=label, parent=parent, **kwargs)
        if tags:
            self.set_tags(_vardict(tags))

    def set_tag(self, name, value):
        """Sets a tag from a Python value: bool, int, float or str become
        Jaeger BOOL, LONG, DOUBLE and STRING tags; anything else its str()."""
        super().set_tag(name, _variant(value))

    def set_tags(self, tags):
        """Sets every tag of a dict (or an a{sv} GLib.Variant)."""
        super().set_tags(tags if isinstance(tags, GLib.Variant) else _vardict(tags))

    def add_log(self, fields):
        """Adds a timestamped log from a dict of fields."""
        super().add_log(fields if isinstance(fields, GLib.Variant) else _vardict(fields))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is not None:
            self.set_tag("error", True)
            self.add_log({
                "event": "error",
                "error.kind": exc_type.__name__,
                "message": str(exc_value),
            })
        # Finished in the block already, or not on this thread's stack (the
        # span is reported all the same): nothing for the block to fail on.
        # The block's own exception, if any, goes on.
        try:
            self.finish()
        except GLib.Error as error:
            if not (error.matches(Gluetool.action_error_quark(), Gluetool.ActionError.NOT_ACTIVE)
                    or error.matches(Gluetool.action_error_quark(), Gluetool.ActionError.FINISHED)):
                raise
        return False


Action = override(Action)
__all__.append("Action")
