# Gluetool.py: PyGObject overrides, so Python code reads as gluetool's own
#
# SPDX-License-Identifier: MIT
#
# Code written against gluetool's `gluetool.action` runs unchanged with its
# import line replaced:
#
#     import gi
#     gi.require_version("Gluetool", "1")
#     from gi.repository.Gluetool import Action, Tracer
#
#     tracer = Tracer(service_name="build")
#     with Action("build", tags={"target": "all"}) as action:
#         with Action("compile", parent=action):
#             ...
#     tracer.close()
#
# The action starts when it is made and finishes when the block ends. An
# exception leaving the block marks the span as an error (the Jaeger `error`
# tag, and a log with the exception's kind and message) and goes on.

import logging
import math
import time

from gi.repository import GLib

from ..module import get_introspection_module
from ..overrides import override

Gluetool = get_introspection_module("Gluetool")

__all__ = []

# Where actions and tracers log when given no logger: gluetool's own logger
# is named so, and a program that configured it sees the same messages.
_DEFAULT_LOGGER = logging.getLogger("gluetool")

_PORT_MAX = 2**32 - 1  # a guint property: larger ones cannot even be passed


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


def _invalid_config(message):
    return GLib.Error.new_literal(Gluetool.tracer_error_quark(), message,
                                  int(Gluetool.TracerError.INVALID_CONFIG))


def _reporting_port(port):
    """The port as the guint property takes it; 0 (any falsy value, as in
    gluetool) leaves it to GLUETOOL_TRACING_REPORTING_PORT. A value that is
    no port at all fails as the library fails on a bad one: with a GLib.Error,
    not a TypeError from the property's conversion."""
    if not port:
        return 0
    try:
        # A string as the variable would hold it; never a float cut short.
        if isinstance(port, bool) or not isinstance(port, (int, str)):
            raise TypeError(port)
        number = int(port, 10) if isinstance(port, str) else port
    except (TypeError, ValueError):
        raise _invalid_config("reporting port {!r} is not a port number from 1 to 65535"
                              .format(port)) from None
    if not 0 < number <= _PORT_MAX:
        raise _invalid_config("reporting port {} is not a port number from 1 to 65535"
                              .format(number))
    return number


_SAMPLER_TYPES = {
    "const": Gluetool.SamplerType.CONST,
    "probabilistic": Gluetool.SamplerType.PROBABILISTIC,
    "ratelimiting": Gluetool.SamplerType.RATE_LIMITING,
    "remote": Gluetool.SamplerType.REMOTE,
}

# The sampler-param property's "not given": GLUETOOL_TRACING_SAMPLER_PARAM
# or the type's default decides.
_SAMPLER_PARAM_UNSET = -1.0


def _sampler_type(value):
    """A Gluetool.SamplerType, or its name as GLUETOOL_TRACING_SAMPLER_TYPE
    takes it ("const", "probabilistic", "ratelimiting", "remote"); a falsy
    value leaves it to the variable."""
    if not value:
        return Gluetool.SamplerType.DEFAULT
    if isinstance(value, Gluetool.SamplerType):
        return value
    if isinstance(value, str) and value in _SAMPLER_TYPES:
        return _SAMPLER_TYPES[value]
    raise _invalid_config("sampler type {!r} is not const, probabilistic, ratelimiting or remote"
                          .format(value))


def _shortest_float_text(value):
    """A float as the library reads a double back: printf's %g, else %e,
    with the fewest digits that give the same float, with a point or an
    exponent (%g writes 2.0 "2", which would read as an int)."""
    if not math.isfinite(value):
        raise _invalid_config("tag value {!r}: a double must be finite".format(value))
    for conversion in ("g", "e"):
        for digits in range(1, 18):
            precision = digits - 1 if conversion == "e" else digits
            text = "%.*{}".format(conversion) % (precision, value)
            if float(text) == value:
                break
        if "." in text or "e" in text:
            return text
    return text


def _tag_value_text(value):
    """A dict value as the tags text writes it: a bool, int or float typed
    as such, anything else (a str above all) in double quotes, which the
    library takes as a string as it is, neither expanded nor typed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _shortest_float_text(value)
    return '"{}"'.format(value)


def _tags_text(tags):
    """The tags property's text: a "key=value,..." string as it is, or a
    dict written so that each value keeps its Python type (see
    _tag_value_text); None leaves it to GLUETOOL_TRACING_TAGS."""
    if tags is None or isinstance(tags, str):
        return tags
    pairs = []
    for key, value in tags.items():
        text = _tag_value_text(value)
        if "," in str(key) or "=" in str(key) or "," in text:
            raise _invalid_config("tag {!r}={!r}: keys cannot hold ',' or '=', values ','"
                                  .format(key, value))
        pairs.append("{}={}".format(key, text))
    return ",".join(pairs)


def _is_initialized(tracer):
    # The client-uuid is read as NULL until GInitable's init has run.
    return tracer.props.client_uuid is not None


class Tracer(Gluetool.Tracer):
    """Where finished actions go, as gluetool.action.Tracer.

    Tracer(service_name=None, logger=None, reporting_host=None,
    reporting_port=None, sampler_type=None, sampler_param=None, tags=None,
    **properties) makes a working tracer and starts its thread; a falsy
    argument (None for sampler_param) leaves the setting to its
    GLUETOOL_TRACING_* variable, then to the library's default (see
    Gluetool.Tracer). sampler_type is a Gluetool.SamplerType or its name
    ("const", "probabilistic", "ratelimiting", "remote"); tags a dict or a
    "key=value,..." string. Other properties (flush_interval, queue_size,
    sampling_endpoint, sampler_refresh_interval, ...) may be given by name.
    A setting that cannot be used raises GLib.Error
    (Gluetool.TracerError.INVALID_CONFIG).

    The first tracer made becomes the process default, which every action
    reports to, until it is closed. A second tracer made meanwhile works but
    is not the default: actions still report to the first, and the second's
    logger is warned so. (gluetool's second Tracer turned tracing off.)

    Tracer.new(service_name, reporting_host, reporting_port) is the C
    constructor and keeps working.
    """

    # For tracers made by Tracer.new() or found by get_default().
    logger = _DEFAULT_LOGGER

    def __init__(self, service_name=None, logger=None, reporting_host=None,
                 reporting_port=None, sampler_type=None, sampler_param=None, tags=None,
                 **properties):
        super().__init__(service_name=service_name or None,
                         reporting_host=reporting_host or None,
                         reporting_port=_reporting_port(reporting_port),
                         sampler_type=_sampler_type(sampler_type),
                         sampler_param=(_SAMPLER_PARAM_UNSET if sampler_param is None
                                        else float(sampler_param)),
                         tags=_tags_text(tags),
                         **properties)
        # PyGObject makes the object without running GInitable's init,
        # which is what reads the settings, starts the thread and makes the
        # default: without it the tracer would be silently disabled.
        if not _is_initialized(self):
            self.init(None)
        self.logger = logger or _DEFAULT_LOGGER

        default = Gluetool.Tracer.get_default()
        if default is not self and self.is_enabled():
            self.logger.warning(
                "Tracer for '%s' is not the default tracer: actions report to the "
                "tracer for '%s', made first, until it is closed",
                self.get_service_name(),
                default.get_service_name() if default is not None else "nothing")

    def close(self, flush_timeout=None, logger=None):
        """Sends every span finished so far, waiting up to flush_timeout
        seconds, and stops the tracer; if it is the default, tracing is off
        until another tracer is made. A falsy flush_timeout means the
        tracer's flush-timeout: GLUETOOL_TRACING_FLUSH_TIMEOUT, read when the
        tracer was made, else 30 s.

        Raises GLib.Error when spans were still unsent at the deadline
        (Gio.IOErrorEnum.TIMED_OUT) or were lost
        (Gluetool.TracerError.SPANS_LOST: dropped, failed to send, or actions
        unfinished at close); the tracer is closed either way. Returns True,
        as the C method does; a second call returns at once."""
        logger = logger or self.logger
        flush_timeout = float(flush_timeout) if flush_timeout else 0.0
        reporting = self.is_enabled() and not self.is_closed()

        if reporting:
            logger.info("Flushing tracing data, waiting up to %g s",
                        flush_timeout if flush_timeout > 0 else self.props.flush_timeout)
        result = super().close(flush_timeout)
        if reporting and logger.isEnabledFor(logging.DEBUG):
            stats = self.get_stats()
            logger.debug("Tracing data flushed: %d spans sent in %d datagrams in all",
                         stats.spans_sent, stats.datagrams_sent)
        return result


Tracer = override(Tracer)
__all__.append("Tracer")


class Action(Gluetool.Action):
    """A piece of work with a label, a parent and tags, reported as a span
    when it finishes, as gluetool.action.Action.

    Action(label, parent=None, tags=None, logger=None) starts the action and
    pushes it on the calling thread's stack; without a parent it starts a new
    trace. Use it as a context manager, or call finish(). The logger (a
    logging.Logger or LoggerAdapter; gluetool's "gluetool" logger when none
    is given) gets a DEBUG message when the action starts and when it
    finishes, with its duration.

    Action.new(label, parent) is the C constructor and keeps working."""

    # For actions made by Action.new() or found on a stack made in C.
    logger = _DEFAULT_LOGGER
    _started_at = None
    _given_parent = None

    def __init__(self, label, parent=None, tags=None, logger=None, **properties):
        super().__init__(label=label, parent=parent, **properties)
        # Kept as gluetool keeps them: the parent given (the C action holds
        # only its ids) and the tags set from Python.
        self._started_at = time.monotonic()
        self._given_parent = parent
        self.logger = logger or _DEFAULT_LOGGER
        self._tags = {}
        if tags:
            self.set_tags(tags)
        # Formatted only when someone listens: this runs for every action.
        if self.logger.isEnabledFor(logging.DEBUG):
            self._log_event("starts at {:.6f}".format(time.time()))

    @staticmethod
    def current_action():
        """The action on top of the calling thread's stack: the one started
        last and not finished yet, or the thread's root. Raises RuntimeError
        when the stack is empty, as gluetool does."""
        action = Gluetool.Action.dup_current()
        if action is None:
            raise RuntimeError("Action stack is empty")
        return action

    @staticmethod
    def set_thread_root(action):
        """Replaces the calling thread's stack with [action], so that a
        worker thread works under an action of the thread that started it:
        current_action() returns it, and new actions can name it as parent.
        Actions that were on the stack stay unfinished."""
        Gluetool.Action.set_thread_root(action)

    @property
    def label(self):
        """What the action does: the span's operation name."""
        return self.get_label()

    @property
    def parent(self):
        """The parent given when the action was made; for an action made in
        C, get_parent()'s, while that parent is unfinished on this thread's
        stack."""
        if self._given_parent is not None:
            return self._given_parent
        return self.props.parent

    @property
    def tags(self):
        """The tags set from Python, by name, as given."""
        if "_tags" not in self.__dict__:
            self._tags = {}
        return self._tags

    def set_tag(self, name, value):
        """Sets a tag from a Python value: bool, int, float or str become
        Jaeger BOOL, LONG, DOUBLE and STRING tags; anything else its str()."""
        super().set_tag(name, _variant(value))
        self.tags[name] = value

    def set_tags(self, tags):
        """Sets every tag of a dict (or an a{sv} GLib.Variant)."""
        if isinstance(tags, GLib.Variant):
            super().set_tags(tags)
            self.tags.update(tags.unpack())
        else:
            super().set_tags(_vardict(tags))
            self.tags.update(tags)

    def add_log(self, fields):
        """Adds a timestamped log from a dict of fields."""
        super().add_log(fields if isinstance(fields, GLib.Variant) else _vardict(fields))

    def finish(self):
        """Finishes the action: takes it off the thread's stack and reports
        its span. Raises GLib.Error (Gluetool.ActionError) when it was
        finished already (FINISHED), or was not on the calling thread's stack
        (NOT_ACTIVE: it is finished and reported all the same)."""
        try:
            super().finish()
        except GLib.Error as error:
            if error.matches(Gluetool.action_error_quark(), Gluetool.ActionError.NOT_ACTIVE):
                self._log_finished()
            raise
        self._log_finished()

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

    def __repr__(self):
        parent = self.parent
        return "Action({}, parent={})".format(self.get_label(),
                                              parent.get_label() if parent is not None else "none")

    def _log_finished(self):
        # Only for actions made here, which know when they started.
        if self._started_at is None or not self.logger.isEnabledFor(logging.DEBUG):
            return
        duration = time.monotonic() - self._started_at
        self._log_event("finished at {:.6f} after {:.6f} s".format(time.time(), duration))

    def _log_event(self, event):
        parent = self.parent
        self.logger.debug("action '%s', child of '%s', span %s, %s",
                          self.get_label(),
                          parent.get_label() if parent is not None else "<no parent>",
                          self.dup_context().to_uber_trace_id(), event)


Action = override(Action)
__all__.append("Action")
