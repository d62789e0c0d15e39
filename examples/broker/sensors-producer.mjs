// A kafkajs producer of sensor readings, keyed by sensor id, to `seglog serve` (or any Kafka).
// Run: node sensors-producer.mjs   (BOOTSTRAP=host:port to point it elsewhere; default localhost:9092)
import { Kafka, Partitioners, logLevel } from 'kafkajs';

const kafka = new Kafka({ clientId: 'sensors', brokers: [process.env.BOOTSTRAP ?? 'localhost:9092'], logLevel: logLevel.WARN });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
await producer.connect();
const sensors = ['greenhouse-1', 'greenhouse-2', 'cellar', 'attic'];
for (let round = 0; round < 5; round++) {
  const messages = sensors.map((id) => ({
    key: id, // one sensor's readings stay in order in one partition
    value: JSON.stringify({ sensor: id, celsius: Math.round((15 + Math.random() * 10) * 10) / 10, at: new Date().toISOString() }),
  }));
  const [result] = await producer.send({ topic: 'sensor-readings', acks: -1, messages });
  console.log(`round ${round}: ${messages.length} readings, first at offset ${result.baseOffset} of partition ${result.partition}`);
}
await producer.disconnect();
