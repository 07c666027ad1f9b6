#!/usr/bin/env python3
# test_gluetool_action.py: code written against gluetool's `gluetool.action`,
# unchanged but for its import line, on this library; spans are received
# over loopback UDP by `gluetool-trace listen`.
#
# SPDX-License-Identifier: MIT
#
# Run by meson as test_gluetool.py is (see there).

import logging
import os
import re
import subprocess
import sys
import threading
import time
import unittest

import gi

gi.require_version("Gluetool", "1")
from gi.repository import GLib  # noqa: E402
from gi.repository.Gluetool import Action, Tracer  # noqa: E402
from gi.repository import Gluetool  # noqa: E402  (only for error domains)

from gluetool_listener import WAIT_S, Listener, log_fields_of, tags_of  # noqa: E402

# Nothing listens there, and no test that uses it sends a span.
UNUSED_PORT = 9

TRACING_VARIABLES = ("GLUETOOL_TRACING_SERVICE_NAME", "GLUETOOL_TRACING_REPORTING_HOST",
                     "GLUETOOL_TRACING_REPORTING_PORT", "GLUETOOL_TRACING_FLUSH_TIMEOUT",
                     "GLUETOOL_TRACING_DISABLE")


class Records(logging.Handler):
    """Keeps every record a logger gets."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level):
        return [record.getMessage() for record in self.records if record.levelno == level]


def capturing_logger(name):
    logger = logging.getLogger("test_gluetool_action." + name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    records = Records()
    logger.addHandler(records)
    return logger, records


class GluetoolActionTest(unittest.TestCase):
    def setUp(self):
        self.listener = None
        self.tracer = None
        self.environ = {name: os.environ.get(name) for name in TRACING_VARIABLES}
        self.assertIsNone(Tracer.get_default(), "a tracer of an earlier test is still open")

    def tearDown(self):
        try:
            if self.tracer is not None:
                self.tracer.close(WAIT_S)
        finally:
            if self.listener is not None:
                self.listener.stop()
            for name, value in self.environ.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def start(self, count, **kwargs):
        """A listener for `count` spans, and a tracer made as gluetool makes
        one, reporting to it."""
        self.listener = Listener(count)
        self.tracer = Tracer(service_name="gluetool-python", reporting_host="127.0.0.1",
                             reporting_port=self.listener.port, **kwargs)

    def close_and_receive(self):
        self.tracer.close(WAIT_S)
        return self.listener.spans()

    def test_gluetool_documented_example(self):
        self.start(4)

        with Action("pipeline") as parent_action:
            # gluetool.action's own example, as its documentation writes it
            # (with a `pass` where the comment stands for the work).
            with Action('some label', parent=parent_action, tags={'foo': 'bar'}) as action:
                # do some work

                with Action('some subtask', parent=action):
                    # e.g. fetching a webpage
                    pass

                with Action('another subtask', parent=action):
                    # e.g. validating page's source code
                    pass

        spans = self.close_and_receive()
        self.assertEqual(set(spans), {"pipeline", "some label", "some subtask", "another subtask"})
        label = spans["some label"]
        self.assertEqual(label["parentSpanID"], spans["pipeline"]["spanID"])
        for child in ("some subtask", "another subtask"):
            self.assertEqual(spans[child]["parentSpanID"], label["spanID"])
        self.assertEqual({span["traceID"] for span in spans.values()}, {label["traceID"]})
        self.assertEqual(tags_of(label)["foo"], "bar")
        self.assertEqual(label["serviceName"], "gluetool-python")
        # gluetool's attributes.
        self.assertEqual(action.label, "some label")
        self.assertIs(action.parent, parent_action)
        self.assertEqual(action.tags, {"foo": "bar"})
        self.assertEqual(repr(action), "Action(some label, parent=pipeline)")

    def test_plain_constructor_makes_the_working_default(self):
        # Made with keywords only, as gluetool's users write it: PyGObject's
        # constructor does not run GInitable's init, which used to leave a
        # disabled tracer that was not the default, and every span unsent.
        self.listener = Listener(1)
        os.environ["GLUETOOL_TRACING_REPORTING_PORT"] = str(self.listener.port)
        self.tracer = Tracer(service_name="x")
        self.assertTrue(self.tracer.is_enabled())
        self.assertIs(Tracer.get_default(), self.tracer)
        self.assertEqual(self.tracer.get_reporting_port(), self.listener.port)

        with Action("reported"):
            pass

        span = self.close_and_receive()["reported"]
        self.assertEqual(span["serviceName"], "x")

    def test_falsy_arguments_fall_back_to_the_environment(self):
        self.listener = Listener(1)
        os.environ["GLUETOOL_TRACING_SERVICE_NAME"] = "from-environment"
        os.environ["GLUETOOL_TRACING_REPORTING_HOST"] = "127.0.0.1"
        os.environ["GLUETOOL_TRACING_REPORTING_PORT"] = str(self.listener.port)
        self.tracer = Tracer(service_name="", reporting_host="", reporting_port=0)
        self.assertEqual(self.tracer.get_service_name(), "from-environment")
        self.assertEqual(self.tracer.get_reporting_port(), self.listener.port)

        with Action("reported"):
            pass

        self.assertEqual(self.close_and_receive()["reported"]["serviceName"], "from-environment")

    def test_worker_thread_with_set_thread_root(self):
        self.start(3)
        seen = {}
        failures = []

        def worker(root):
            try:
                Action.set_thread_root(root)
                seen["root"] = Action.current_action()
                with Action("fetch", parent=Action.current_action()) as fetch:
                    seen["fetch"] = fetch
                    seen["current in fetch"] = Action.current_action()
                seen["after fetch"] = Action.current_action()
            except Exception as error:  # reported by the main thread
                failures.append(error)

        with Action("pipeline") as pipeline:
            thread = threading.Thread(target=worker, args=(pipeline,))
            thread.start()
            thread.join()
            with Action("validate", parent=pipeline):
                pass
            # The worker's root does not change this thread's stack.
            self.assertIs(Action.current_action(), pipeline)

        self.assertEqual(failures, [])
        self.assertIs(seen["root"], pipeline)
        self.assertIs(seen["current in fetch"], seen["fetch"])
        self.assertIs(seen["after fetch"], pipeline)
        spans = self.close_and_receive()
        self.assertEqual(set(spans), {"pipeline", "fetch", "validate"})
        for child in ("fetch", "validate"):
            self.assertEqual(spans[child]["parentSpanID"], spans["pipeline"]["spanID"])
            self.assertEqual(spans[child]["traceID"], spans["pipeline"]["traceID"])

    def test_exception_in_a_block(self):
        self.start(2)

        with self.assertRaisesRegex(ValueError, "^no such target$"):
            with Action("pipeline") as pipeline:
                with Action("step", parent=pipeline):
                    raise ValueError("no such target")

        # Both blocks finished their actions on the way out.
        with self.assertRaisesRegex(RuntimeError, "^Action stack is empty$"):
            Action.current_action()
        spans = self.close_and_receive()
        for name in ("pipeline", "step"):
            self.assertIs(tags_of(spans[name])["error"], True)
            self.assertEqual(log_fields_of(spans[name]),
                             [{"event": "error", "error.kind": "ValueError",
                               "message": "no such target"}])

    def test_current_action_raises_on_an_empty_stack(self):
        with self.assertRaisesRegex(RuntimeError, "^Action stack is empty$"):
            Action.current_action()

        raised = []

        def fresh_thread():
            try:
                Action.current_action()
            except RuntimeError as error:
                raised.append(str(error))

        thread = threading.Thread(target=fresh_thread)
        thread.start()
        thread.join()
        self.assertEqual(raised, ["Action stack is empty"])

        action = Action("alone")
        self.assertIs(Action.current_action(), action)
        action.finish()
        with self.assertRaises(RuntimeError):
            Action.current_action()

    def test_logger_gets_gluetool_messages(self):
        os.environ["GLUETOOL_TRACING_FLUSH_TIMEOUT"] = "7"
        logger, records = capturing_logger("logger")
        self.start(2, logger=logger)
        self.assertIs(self.tracer.logger, logger)

        outer_started = time.monotonic()
        with Action("logged", logger=logger) as action:
            inner_started = time.monotonic()
            # A LoggerAdapter, as gluetool's ContextAdapter is one.
            adapter = logging.LoggerAdapter(logger, {"context": "step"})
            with Action("adapted", parent=action, logger=adapter) as step:
                self.assertIs(step.logger, adapter)
            inner = time.monotonic() - inner_started
        outer = time.monotonic() - outer_started
        self.tracer.close()
        self.listener.spans()

        debug = records.messages(logging.DEBUG)
        started = [m for m in debug if m.startswith("action 'logged'") and "starts at" in m]
        finished = [m for m in debug if m.startswith("action 'logged'") and "finished at" in m]
        self.assertEqual(len(started), 1, debug)
        self.assertEqual(len(finished), 1, debug)
        self.assertIn("child of '<no parent>'", started[0])
        self.assertIn(action.dup_context().to_uber_trace_id(), started[0])
        duration = float(re.search(r"after ([0-9.]+) s$", finished[0]).group(1))
        # Printed to the microsecond.
        self.assertGreaterEqual(duration + 1e-6, inner)
        self.assertLessEqual(duration - 1e-6, outer)
        self.assertTrue(any(m.startswith("action 'adapted', child of 'logged'")
                            and "finished at" in m for m in debug), debug)
        # close(): gluetool's message, at INFO as gluetool logs it, with the
        # timeout from the variable; then what was sent.
        self.assertEqual(records.messages(logging.INFO),
                         ["Flushing tracing data, waiting up to 7 s"])
        self.assertIn("Tracing data flushed: 2 spans sent in", debug[-1])

    def test_close_takes_a_logger(self):
        logger, records = capturing_logger("close")
        self.start(1)
        with Action("reported"):
            pass
        self.tracer.close(flush_timeout=WAIT_S, logger=logger)
        self.assertEqual(records.messages(logging.INFO),
                         ["Flushing tracing data, waiting up to {:g} s".format(WAIT_S)])
        self.assertIn("reported", self.listener.spans())
        # A second close() has nothing left to do, and says nothing.
        self.assertTrue(self.tracer.close(logger=logger))
        self.assertEqual(len(records.messages(logging.INFO)), 1)

    def test_default_logger_is_gluetools(self):
        action = Action("quiet")
        action.finish()
        self.assertIs(action.logger, logging.getLogger("gluetool"))

    def test_close_raises_when_spans_are_lost(self):
        self.tracer = Tracer(reporting_host="127.0.0.1", reporting_port=UNUSED_PORT)
        unfinished = Action("unfinished")
        with self.assertRaises(GLib.Error) as caught:
            self.tracer.close()
        self.assertTrue(caught.exception.matches(Gluetool.tracer_error_quark(),
                                                 Gluetool.TracerError.SPANS_LOST))
        self.assertIn("1 action was unfinished", caught.exception.message)
        self.assertTrue(self.tracer.is_closed())
        self.assertIsNone(Tracer.get_default())
        unfinished.finish()

    def test_second_tracer_works_but_is_not_the_default(self):
        logger, records = capturing_logger("second")
        self.start(1)
        second = Tracer(service_name="second", logger=logger, reporting_host="127.0.0.1",
                        reporting_port=self.listener.port)
        try:
            self.assertTrue(second.is_enabled())
            self.assertIs(Tracer.get_default(), self.tracer)
            self.assertEqual(records.messages(logging.WARNING),
                             ["Tracer for 'second' is not the default tracer: actions report "
                              "to the tracer for 'gluetool-python', made first, until it is "
                              "closed"])

            with Action("reported"):
                pass

            spans = self.close_and_receive()
            self.assertEqual(spans["reported"]["serviceName"], "gluetool-python")
            self.assertTrue(second.flush(WAIT_S))
            self.assertEqual(second.get_stats().spans_reported, 0)
            # The first one closed, tracing is off until a tracer is made.
            self.assertIsNone(Tracer.get_default())
        finally:
            self.assertTrue(second.close(WAIT_S))

    def test_bad_configuration_raises(self):
        for port in (70000, -1, "abc", 1.5):
            with self.subTest(port=port), self.assertRaises(GLib.Error) as caught:
                Tracer(reporting_port=port)
            self.assertTrue(caught.exception.matches(Gluetool.tracer_error_quark(),
                                                     Gluetool.TracerError.INVALID_CONFIG))
            self.assertIn(str(port), caught.exception.message)

        os.environ["GLUETOOL_TRACING_REPORTING_PORT"] = "abc"
        with self.assertRaises(GLib.Error) as caught:
            Tracer()
        self.assertTrue(caught.exception.matches(Gluetool.tracer_error_quark(),
                                                 Gluetool.TracerError.INVALID_CONFIG))
        self.assertIn("GLUETOOL_TRACING_REPORTING_PORT", caught.exception.message)
        # None of them became the default.
        self.assertIsNone(Tracer.get_default())

    def test_sampler_and_process_tags(self):
        self.start(2, sampler_type="probabilistic", sampler_param=1.0,
                   tags={"env": "test", "shard": 3, "canary": True,
                         # A str stays a str, whatever it reads as; an
                         # int, float or bool keeps its type and value.
                         "zip": "02134", "build": "7", "flag": "true", "ratio": 0.1,
                         "whole": 2.0, "big": 123456789012.0, "note": '"quoted"',
                         "path": "${HOME}"})
        self.assertEqual(self.tracer.props.sampler_type, Gluetool.SamplerType.PROBABILISTIC)
        self.assertEqual(self.tracer.props.sampler_param, 1.0)
        self.assertEqual(self.tracer.dup_sampling_strategy(), "probabilistic 1")
        with Action("sampled") as root:
            with Action("its child", parent=root):
                pass
        spans = self.close_and_receive()
        tags = tags_of(spans["sampled"])
        self.assertEqual(tags["sampler.type"], "probabilistic")
        self.assertEqual(tags["sampler.param"], 1.0)
        self.assertNotIn("sampler.type", tags_of(spans["its child"]))
        process_tags = tags_of(spans["sampled"]["process"])
        self.assertEqual(process_tags["env"], "test")
        self.assertEqual(process_tags["shard"], 3)
        self.assertIs(process_tags["canary"], True)
        self.assertEqual(process_tags["zip"], "02134")
        self.assertEqual(process_tags["build"], "7")
        self.assertEqual(process_tags["flag"], "true")
        self.assertEqual(process_tags["note"], '"quoted"')
        self.assertEqual(process_tags["path"], "${HOME}")
        for key, value in (("ratio", 0.1), ("whole", 2.0), ("big", 123456789012.0)):
            self.assertIsInstance(process_tags[key], float)
            self.assertEqual(process_tags[key], value)

    def test_unsampled_traces_are_not_sent(self):
        self.start(1, sampler_type="const", sampler_param=0)
        with Action("unsampled") as root:
            with Action("unsampled child", parent=root) as child:
                # Everything but the sending works.
                self.assertIs(Action.current_action(), child)
                self.assertEqual(child.dup_context().get_flags(), 0)
        # A remote parent that says sampled decides for its subtree.
        remote = Gluetool.SpanContext.new(0, 0x5A5A, 0x77, 0, Gluetool.SPAN_CONTEXT_FLAG_SAMPLED)
        Gluetool.Action.new_with_remote_parent("marker", remote, None).finish()
        spans = self.close_and_receive()
        self.assertEqual(set(spans), {"marker"})
        self.assertEqual(self.tracer.get_stats().spans_sent, 1)

    def test_bad_sampler_settings_raise(self):
        for kwargs in ({"sampler_type": "adaptive"},
                       {"sampler_type": "probabilistic", "sampler_param": 1.5},
                       {"sampler_type": "ratelimiting", "sampler_param": -2},
                       {"tags": "novalue"},
                       {"tags": {"a,b": 1}},
                       {"sampling_endpoint": "not a URL"}):
            with self.subTest(**{k: str(v) for k, v in kwargs.items()}), \
                    self.assertRaises(GLib.Error) as caught:
                Tracer(reporting_port=UNUSED_PORT, **kwargs)
            self.assertTrue(caught.exception.matches(Gluetool.tracer_error_quark(),
                                                     Gluetool.TracerError.INVALID_CONFIG))
        self.assertIsNone(Tracer.get_default())

    def test_disabled_by_the_environment(self):
        os.environ["GLUETOOL_TRACING_DISABLE"] = "1"
        logger, records = capturing_logger("disabled")
        self.tracer = Tracer(logger=logger)
        self.assertFalse(self.tracer.is_enabled())
        with Action("unreported"):
            pass
        self.assertTrue(self.tracer.close())
        self.assertEqual(self.tracer.get_stats().spans_reported, 0)
        # As gluetool's, a disabled tracer's close() has nothing to flush.
        self.assertEqual(records.records, [])

    def test_spans_sent_at_exit_without_close(self):
        # A gluetool program that never calls close() still delivers its
        # spans: the library flushes them when the interpreter exits.
        self.listener = Listener(2)
        program = "\n".join([
            "import gi",
            "gi.require_version('Gluetool', '1')",
            "from gi.repository.Gluetool import Action, Tracer",
            "tracer = Tracer(service_name='no-close')",
            "with Action('main') as main:",
            "    with Action('step', parent=main):",
            "        pass",
        ])
        environ = dict(os.environ, GLUETOOL_TRACING_REPORTING_HOST="127.0.0.1",
                       GLUETOOL_TRACING_REPORTING_PORT=str(self.listener.port))
        finished = subprocess.run([sys.executable, "-c", program], env=environ,
                                  capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual((finished.returncode, finished.stderr), (0, ""))
        spans = self.listener.spans()
        self.assertEqual(set(spans), {"main", "step"})
        self.assertEqual(spans["step"]["parentSpanID"], spans["main"]["spanID"])
        self.assertEqual(spans["main"]["serviceName"], "no-close")

    def test_c_constructors_keep_working(self):
        self.listener = Listener(1)
        self.tracer = Tracer.new("c-style", "127.0.0.1", self.listener.port)
        self.assertIsInstance(self.tracer, Tracer)
        self.assertIs(Tracer.get_default(), self.tracer)
        action = Action.new("made in C", None)
        self.assertIsInstance(action, Action)
        self.assertEqual(action.label, "made in C")
        self.assertIs(Action.current_action(), action)
        action.set_tag("jobs", 4)
        self.assertEqual(action.tags, {"jobs": 4})
        action.finish()
        span = self.close_and_receive()["made in C"]
        self.assertEqual(span["serviceName"], "c-style")
        self.assertEqual(tags_of(span)["jobs"], 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
