"""confluent-kafka (librdkafka) client steps for the broker tests; prints one JSON document.

Usage: python3 confluent.py BOOTSTRAP STEP ARGS...
  produce TOPIC CODEC N       keyed records sensor-<i % 4> -> value CODEC-<i>, idempotent, acks=all
  consume TOPIC GROUP N       a group member: reads N records, commits, closes
  committed TOPIC GROUP P     the group's committed offset of partition P
  times TOPIC TS              offsets_for_times of every partition
  create TOPIC N              AdminClient.create_topics with N partitions
  rebalance TOPIC GROUP N     two members of GROUP handle N records of two partitions between them: a
                              alone (N/6 of each), then b joins and handles 5, then b leaves; each
                              record is committed once handled
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, step, *args = sys.argv[1:]
common = {'bootstrap.servers': bootstrap, 'socket.timeout.ms': 10000, 'topic.metadata.refresh.interval.ms': 1000}


def out(doc):
    print(json.dumps(doc))
    sys.stdout.flush()


if step == 'produce':
    topic, codec, n = args[0], args[1], int(args[2])
    p = Producer({**common, 'enable.idempotence': True, 'acks': 'all', 'compression.type': codec, 'linger.ms': 5})
    delivered = []
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append([msg.partition(), msg.offset()])

    for i in range(n):
        p.produce(topic, key=f'sensor-{i % 4}', value=f'{codec}-{i}', timestamp=1_700_000_000_000 + i * 1000, on_delivery=report)
    left = p.flush(20)
    out({'delivered': delivered, 'errors': errors, 'left': left})
elif step == 'consume':
    topic, group, n = args[0], args[1], int(args[2])
    c = Consumer({**common, 'group.id': group, 'auto.offset.reset': 'earliest', 'enable.auto.commit': False,
                  'session.timeout.ms': 6000, 'heartbeat.interval.ms': 500, 'fetch.wait.max.ms': 100})
    c.subscribe([topic])
    got = []
    deadline = time.time() + 30
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.2)
        if m is None or m.error() is not None:
            continue
        got.append({'partition': m.partition(), 'offset': m.offset(), 'key': m.key().decode() if m.key() else None, 'value': m.value().decode()})
    if got:
        c.commit(asynchronous=False)
    c.close()
    out({'records': got})
elif step == 'committed':
    topic, group, partition = args[0], args[1], int(args[2])
    c = Consumer({**common, 'group.id': group})
    tp = c.committed([TopicPartition(topic, partition)], timeout=10)[0]
    c.close()
    out({'offset': tp.offset})
elif step == 'times':
    topic, ts = args[0], int(args[1])
    c = Consumer({**common, 'group.id': 'times-probe'})
    meta = c.list_topics(topic, timeout=10)
    parts = [TopicPartition(topic, p, ts) for p in sorted(meta.topics[topic].partitions)]
    found = c.offsets_for_times(parts, timeout=10)
    c.close()
    out({'offsets': [[tp.partition, tp.offset] for tp in found]})
elif step == 'create':
    topic, n = args[0], int(args[1])
    a = AdminClient(common)
    futures = a.create_topics([NewTopic(topic, num_partitions=n, replication_factor=1)], operation_timeout=10)
    try:
        futures[topic].result(15)
        out({'created': True})
    except Exception as e:  # noqa: BLE001 - the test reads the error text
        out({'created': False, 'error': str(e)})
elif step == 'rebalance':
    topic, group, n = args[0], args[1], int(args[2])
    handled = []
    assignments = {'a': [], 'b': []}
    # librdkafka keeps a partition paused across rebalances: what a member paused is resumed
    # once a new assignment comes (only what is paused: resuming a partition that is being
    # fetched can hand its next message to the app twice).
    fresh = {'a': False, 'b': False}
    paused = {'a': set(), 'b': set()}

    def assigned(name, parts):
        assignments[name].append(sorted(p.partition for p in parts))
        fresh[name] = True

    def member(name):
        c = Consumer({**common, 'group.id': group, 'auto.offset.reset': 'earliest', 'enable.auto.commit': False,
                      'session.timeout.ms': 6000, 'heartbeat.interval.ms': 300, 'fetch.wait.max.ms': 100})
        c.subscribe([topic], on_assign=lambda _, parts: assigned(name, parts))
        return c

    def handle(name, c):
        if fresh[name]:
            fresh[name] = False
            stuck = [tp for tp in c.assignment() if tp.partition in paused[name]]
            if stuck:
                c.resume(stuck)
                paused[name] -= {tp.partition for tp in stuck}
        m = c.poll(0.05)
        if m is None or m.error() is not None:
            return
        handled.append({'who': name, 'partition': m.partition(), 'offset': m.offset(), 'value': m.value().decode()})
        # Committed as soon as it is handled: a partition that moves goes on after it.
        c.commit(message=m, asynchronous=False)

    def until(done, members, seconds=30):
        deadline = time.time() + seconds
        while not done() and time.time() < deadline:
            for name, c in members:
                handle(name, c)

    a = member('a')
    # a handles a sixth of the records from each partition (a partition is paused once it has its
    # share), so whichever partition moves to b has records handled before and after b.
    share = n // 6

    def share_done(partition):
        return sum(h['partition'] == partition for h in handled) >= share

    def handle_share():
        handle('a', a)
        full = [tp for tp in a.assignment() if tp.partition not in paused['a'] and share_done(tp.partition)]
        if full:
            a.pause(full)
            paused['a'] |= {tp.partition for tp in full}

    deadline = time.time() + 30
    while not (share_done(0) and share_done(1)) and time.time() < deadline:
        handle_share()
    # a stops handling (its partitions paused) until b's join has given it a new assignment.
    a.pause(a.assignment())
    paused['a'] = {tp.partition for tp in a.assignment()}
    b = member('b')
    until(lambda: len(assignments['a']) >= 2 and len(assignments['b']) >= 1, [('a', a), ('b', b)])
    # b handles a few records, so its partition still holds some when it leaves.
    until(lambda: sum(h['who'] == 'b' for h in handled) >= 5, [('a', a), ('b', b)])
    b.close()
    until(lambda: len(handled) >= n and len(assignments['a']) >= 3, [('a', a)])
    a.close()
    out({'handled': handled, 'assignments': assignments})
else:
    raise SystemExit(f'unknown step {step}')
