# ruby-client.rb: the comparison's workload through Debian's ruby-jaeger-client
#
# SPDX-License-Identifier: MIT
#
# Usage: ruby ruby-client.rb N HOST PORT
#
# Public API only: a RemoteReporter over a UdpSender to HOST:PORT (compact
# Thrift, emitBatch), given to Jaeger::Client.build; N spans (each a child of
# one root, 3 tags: string, integer, boolean); then the reporter's flush,
# which is the only way this client offers to send what is buffered (its
# tracer has no close). The reporter's own thread flushes every
# flush_interval seconds, 10 by default, which is left as it is.

require 'logger'
require 'jaeger/client'

if ARGV.length != 3
  warn 'usage: ruby ruby-client.rb N HOST PORT'
  exit 2
end

n = Integer(ARGV[0])
host = ARGV[1]
port = Integer(ARGV[2])

logger = Logger.new($stderr, level: Logger::WARN)
encoder = Jaeger::Encoders::ThriftEncoder.new(service_name: 'bench-compare', logger: logger)
sender = Jaeger::UdpSender.new(host: host, port: port, encoder: encoder, logger: logger)
reporter = Jaeger::Reporters::RemoteReporter.new(sender: sender,
                                                 flush_interval: Jaeger::Client::DEFAULT_FLUSH_INTERVAL)
tracer = Jaeger::Client.build(service_name: 'bench-compare', reporter: reporter, logger: logger)

root = tracer.start_span('root')
n.times do |i|
  span = tracer.start_span('bench span', child_of: root)
  span.set_tag('component', 'bench')
  span.set_tag('i', i)
  span.set_tag('ok', true)
  span.finish
end
root.finish
reporter.flush
