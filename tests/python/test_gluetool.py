#!/usr/bin/env python3
# test_gluetool.py: the library through GObject introspection, from Python,
# as gluetool's own users write it; spans are received over loopback UDP by
# `gluetool-trace listen`, which decodes them with the c_glib reference codec.
#
# SPDX-License-Identifier: MIT
#
# Run by meson with GI_TYPELIB_PATH, LD_LIBRARY_PATH and PYTHONPATH pointing
# at the build's typelib, library and the source tree's overrides, and
# GLUETOOL_TRACE_PROGRAM at the built gluetool-trace.

import json
import os
import subprocess
import threading
import unittest

import gi

gi.require_version("Gluetool", "1")
from gi.repository import GLib, Gluetool  # noqa: E402

WAIT_S = 20


class Listener:
    """`gluetool-trace listen --json` on a free loopback port."""

    def __init__(self, count):
        self.process = subprocess.Popen(
            [os.environ["GLUETOOL_TRACE_PROGRAM"], "listen", "--port", "0", "--json",
             "--count", str(count), "--idle", str(WAIT_S), "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stderr.readline()
        if "listening on UDP " not in line:
            self.process.kill()
            raise RuntimeError("gluetool-trace listen said: " + line)
        self.port = int(line.rsplit(":", 1)[1])
        self.errors = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self):
        self.errors.extend(self.process.stderr)

    def spans(self):
        """Every span, once the listener stopped (after --count spans)."""
        out, _ = self.process.communicate(timeout=WAIT_S * 2)
        return {span["operationName"]: span
                for span in (json.loads(line) for line in out.splitlines() if line.strip())}


def tags_of(span):
    return {tag["key"]: tag["value"] for tag in span["tags"]}


class GluetoolTest(unittest.TestCase):
    def setUp(self):
        self.listener = None
        self.tracer = None

    def tearDown(self):
        if self.tracer is not None:
            self.tracer.close(WAIT_S)
        if self.listener is not None and self.listener.process.poll() is None:
            self.listener.process.kill()
            self.listener.process.wait()

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
