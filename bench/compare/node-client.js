// node-client.js: the comparison's workload through node's jaeger-client
//
// SPDX-License-Identifier: MIT
//
// Usage: node node-client.js N HOST PORT
//
// Public API only: initTracer() with a const sampler and a reporter pointed
// at HOST:PORT, N spans (each a child of one root, 3 tags: string, number,
// boolean), then tracer.close() and its callback. jaeger-client 3.19 sends
// jaeger.thrift emitBatch over Thrift's *binary* protocol (an agent's 6832),
// so the sink decodes those datagrams with the binary reference decoder.
'use strict';

const { initTracer } = require('jaeger-client');

function main(argv) {
  if (argv.length !== 3) {
    process.stderr.write('usage: node node-client.js N HOST PORT\n');
    process.exit(2);
  }
  const n = Number.parseInt(argv[0], 10);
  const host = argv[1];
  const port = Number.parseInt(argv[2], 10);
  // Errors are what the client reports about spans it could not send.
  const logger = {
    info() {},
    error(message) { process.stderr.write(`jaeger-client: ${message}\n`); },
  };
  const tracer = initTracer({
    serviceName: 'bench-compare',
    sampler: { type: 'const', param: 1 },
    reporter: { agentHost: host, agentPort: port, logSpans: false },
  }, { logger });

  const root = tracer.startSpan('root');
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan('bench span', { childOf: root });
    span.setTag('component', 'bench');
    span.setTag('i', i);          // a JS number: the client sends a DOUBLE tag
    span.setTag('ok', true);
    span.finish();
  }
  root.finish();
  tracer.close(() => {});
}

main(process.argv.slice(2));
