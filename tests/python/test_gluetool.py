#!/usr/bin/env python3
# test_gluetool.py: the library through GObject introspection, from Python,
# with its C names (Gluetool.Tracer.new, get_current, ...); spans are
# received over loopback UDP by `gluetool-trace listen`, which decodes them
# with the c_glib reference codec. test_gluetool_action.py writes it as
# gluetool's users do.
#
# SPDX-License-Identifier: MIT
#
# Run by meson with GI_TYPELIB_PATH, LD_LIBRARY_PATH and PYTHONPATH pointing
# at the build's typelib, library and the source tree's overrides, and
# GLUETOOL_TRACE_PROGRAM at the built gluetool-trace.

import unittest

import gi

gi.require_version("Gluetool", "1")
from gi.repository import GLib, Gluetool  # noqa: E402

from gluetool_listener import WAIT_S, Listener, tags_of  # noqa: E402


class GluetoolTest(unittest.TestCase):
    def setUp(self):
        self.listener = None
        self.tracer = None

    def tearDown(self):
        if self.tracer is not None:
            self.tracer.close(WAIT_S)
        if self.listener is not None:
            self.listener.stop()

    def start(self, count):
        self.listener = Listener(count)
        self.tracer = Gluetool.Tracer.new("python", "127.0.0.1", self.listener.port)
        self.assertIs(Gluetool.Tracer.get_default(), self.tracer)

    def test_with_block_reports_a_tree(self):
        self.start(2)
        with Gluetool.Action(label="build", tags={"target": "all", "jobs": 4,
                                                  "debug": False, "ratio": 0.5}) as build:
            self.assertEqual(Gluetool.Action.get_current(), build)
            with Gluetool.Action(label="compile", parent=build) as step:
                step.set_tag("file", "main.c")
                self.assertEqual(step.get_parent(), build)
                self.assertEqual(step.props.parent, build)
            self.assertTrue(step.is_finished())
            self.assertFalse(build.is_finished())
            # Found while the parent is unfinished on this thread's stack.
            self.assertEqual(step.get_parent(), build)
        self.assertTrue(build.is_finished())
        self.assertIsNone(Gluetool.Action.get_current())
        # The child holds no reference to its parent, only its ids.
        self.assertIsNone(step.get_parent())

        self.assertTrue(self.tracer.flush(WAIT_S))
        spans = self.listener.spans()
        self.assertEqual(set(spans), {"build", "compile"})
        self.assertEqual(spans["compile"]["parentSpanID"], spans["build"]["spanID"])
        self.assertEqual(spans["compile"]["traceID"], spans["build"]["traceID"])
        self.assertEqual(spans["build"]["serviceName"], "python")
        tags = tags_of(spans["build"])
        self.assertEqual(tags["target"], "all")
        self.assertEqual(tags["jobs"], 4)
        self.assertIs(tags["debug"], False)
        self.assertEqual(tags["ratio"], 0.5)
        self.assertEqual(tags_of(spans["compile"])["file"], "main.c")
        self.assertNotIn("error", tags)

    def test_exception_marks_the_span(self):
        self.start(1)
        with self.assertRaises(ValueError):
            with Gluetool.Action(label="failing"):
                raise ValueError("no such target")
        self.assertTrue(self.tracer.flush(WAIT_S))
        span = self.listener.spans()["failing"]
        self.assertIs(tags_of(span)["error"], True)
        self.assertEqual(len(span["logs"]), 1)
        fields = {field["key"]: field["value"] for field in span["logs"][0]["fields"]}
        self.assertEqual(fields["event"], "error")
        self.assertEqual(fields["error.kind"], "ValueError")
        self.assertEqual(fields["message"], "no such target")

    def test_errors_are_gerrors(self):
        self.start(1)
        action = Gluetool.Action(label="once")
        action.finish()
        with self.assertRaises(GLib.Error) as caught:
            action.finish()
        self.assertTrue(caught.exception.matches(Gluetool.action_error_quark(),
                                                 Gluetool.ActionError.FINISHED))
        # Finished twice, reported once.
        self.assertTrue(self.tracer.flush(WAIT_S))
        self.assertEqual(self.tracer.get_stats().spans_reported, 1)
        self.assertEqual(set(self.listener.spans()), {"once"})

    def test_bad_configuration_is_a_gerror(self):
        with self.assertRaises(GLib.Error) as caught:
            Gluetool.Tracer.new("python", "127.0.0.1", 70000)
        self.assertTrue(caught.exception.matches(Gluetool.tracer_error_quark(),
                                                 Gluetool.TracerError.INVALID_CONFIG))
        self.assertIn("70000", caught.exception.message)


if __name__ == "__main__":
    unittest.main(verbosity=2)
