"""librdkafka (confluent-kafka) produce for bench/broker.ts: N records of VALUE bytes, keyed,
to TOPIC with ACKS; prints JSON {seconds, p50_ms, p99_ms} (latency: produce() to delivery)."""
import json
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, n, value_bytes, acks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
p = Producer({'bootstrap.servers': bootstrap, 'acks': acks, 'linger.ms': 2, 'compression.type': 'none',
              'queue.buffering.max.messages': 1000000, 'queue.buffering.max.kbytes': 1048576})
value = (b'0123456789abcdef' * (value_bytes // 16 + 1))[:value_bytes]
latencies = []
errors = []


def report(sent):
    def done(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            latencies.append(time.perf_counter() - sent)
    return done


start = time.perf_counter()
# At most MAX_IN_FLIGHT records between produce() and their delivery report, so the latency is
# the broker's round trip under load, not time spent queued in the client.
MAX_IN_FLIGHT = 1000
for i in range(n):
    while i - len(latencies) - len(errors) >= MAX_IN_FLIGHT:
        p.poll(0.001)
    while True:
        try:
            p.produce(topic, key=f'sensor-{i % 64}', value=value, on_delivery=report(time.perf_counter()))
            break
        except BufferError:
            p.poll(0.01)
    if i % 1000 == 0:
        p.poll(0)
p.flush(120)
seconds = time.perf_counter() - start
latencies.sort()
q = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))] * 1000 if latencies else -1
print(json.dumps({'seconds': seconds, 'delivered': len(latencies), 'errors': errors[:3], 'p50_ms': q(0.5), 'p99_ms': q(0.99)}))
