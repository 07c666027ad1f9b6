# gluetool_listener.py: `gluetool-trace listen` as the receiver of the Python
# suites; it decodes spans with the c_glib reference codec.
#
# SPDX-License-Identifier: MIT

import json
import os
import subprocess
import threading

WAIT_S = 20


class Listener:
    """`gluetool-trace listen --json` on a free loopback port, until it has
    received `count` spans."""

    def __init__(self, count):
        self.process = subprocess.Popen(
            [os.environ["GLUETOOL_TRACE_PROGRAM"], "listen", "--port", "0", "--json",
             "--count", str(count), "--idle", str(WAIT_S), "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The UDP line comes last, after any HTTP ones.
        line = self.process.stderr.readline()
        while line.startswith("gluetool-trace: listening on ") and "listening on UDP " not in line:
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
        """Every span by operation name, once the listener stopped (after
        its count of spans, or idle for WAIT_S)."""
        out, _ = self.process.communicate(timeout=WAIT_S * 2)
        return {span["operationName"]: span
                for span in (json.loads(line) for line in out.splitlines() if line.strip())}

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def tags_of(span):
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def log_fields_of(span):
    return [{field["key"]: field["value"] for field in log["fields"]} for log in span["logs"]]
