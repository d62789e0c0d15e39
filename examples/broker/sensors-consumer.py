"""A confluent-kafka consumer in the group 'dashboard', reading sensor readings from `seglog serve`.

Run: python3 sensors-consumer.py   (BOOTSTRAP=host:port to point it elsewhere; default localhost:9092)
It stops after 5 seconds without new readings; its committed offsets are what
`topic.partition(p).consumer('dashboard').committed()` returns in seglog.
"""
import json
import os
import time

from confluent_kafka import Consumer

consumer = Consumer({
    'bootstrap.servers': os.environ.get('BOOTSTRAP', 'localhost:9092'),
    'group.id': 'dashboard',
    'auto.offset.reset': 'earliest',
})
consumer.subscribe(['sensor-readings'])
last = time.time()
count = 0
while time.time() - last < 5:
    msg = consumer.poll(0.5)
    if msg is None:
        continue
    if msg.error():
        print('error:', msg.error())
        continue
    reading = json.loads(msg.value())
    count += 1
    last = time.time()
    print(f"{msg.key().decode()}: {reading['celsius']} °C (partition {msg.partition()}, offset {msg.offset()})")
consumer.close()  # commits the offsets read (enable.auto.commit) and leaves the group
print(f'{count} readings')
