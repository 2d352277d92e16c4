"""Reads a topic's committed records with Confluent's own Python client and prints each as one
JSON line {"partition", "offset", "key", "value"}: the foreign reader of
integration/foreign_confluent_test.go. Nothing of cdcd is used here.

Format avro: key and value go through confluent_kafka's AvroDeserializer, which fetches the
writer's schema from the registry (SchemaRegistryClient) by the id in the Confluent wire
format. Format json: key and value are plain JSON (Kafka Connect's JsonConverter), parsed
with json.loads. Format cloudevents: the value is parsed by the CNCF CloudEvents SDK
(cloudevents.v1.http.from_json: structured mode, its required attributes checked) and printed
as the envelope it carries: {"op", "before", "after", "source"} from its iodebezium* extension
attributes and data, with the CloudEvent's own attributes under "$ce"; the key is plain JSON.
What a deserializer returns is printed as JSON: bytes tagged as {"$bytes": base64}, a
decimal.Decimal as {"$decimal": its text}.

usage: confluent_reader.py BOOTSTRAP TOPIC COUNT FORMAT [REGISTRY_URL]
(REGISTRY_URL with the formats avro and json-registry)
Exits non-zero if COUNT records did not arrive within the deadline (CDCD_FOREIGN_TIMEOUT, 120 s).
"""

import base64
import decimal
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.serialization import MessageField, SerializationContext


def plain(v):
    """What a deserializer returned, as JSON can carry it."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, decimal.Decimal):
        return {"$decimal": str(v)}
    return v


def cloud_event(event):
    """A CloudEvent of Debezium's CloudEventsConverter as the change event it carries."""
    attrs = event.get_attributes()
    data = event.get_data() or {}
    return {
        "op": attrs.get("iodebeziumop"),
        "before": data.get("before"),
        "after": data.get("after"),
        "source": {
            "connector": attrs.get("iodebeziumconnector"),
            "db": attrs.get("iodebeziumdb"),
            "table": attrs.get("iodebeziumtable"),
        },
        "$ce": {k: attrs.get(k) for k in ("id", "source", "specversion", "type", "datacontenttype", "time")},
    }


def main():
    bootstrap, topic, count, fmt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if fmt == "avro":
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroDeserializer

        registry = SchemaRegistryClient({"url": sys.argv[5]})
        key_de = AvroDeserializer(registry)
        value_de = AvroDeserializer(registry)

        def decode(data, field):
            if data is None:
                return None
            de = key_de if field == MessageField.KEY else value_de
            return plain(de(data, SerializationContext(topic, field)))
    elif fmt == "json-registry":
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.json_schema import JSONDeserializer

        registry = SchemaRegistryClient({"url": sys.argv[5]})
        key_de = JSONDeserializer(None, schema_registry_client=registry)
        value_de = JSONDeserializer(None, schema_registry_client=registry)

        def decode(data, field):
            if data is None:
                return None
            de = key_de if field == MessageField.KEY else value_de
            return plain(de(data, SerializationContext(topic, field)))
    elif fmt == "json":
        def decode(data, field):
            return None if data is None else json.loads(data)
    elif fmt == "cloudevents":
        from cloudevents.v1.http import from_json

        def decode(data, field):
            if data is None:
                return None
            if field == MessageField.KEY:
                return json.loads(data)
            return cloud_event(from_json(data))
    else:
        sys.exit("unknown format " + fmt)

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "foreign-" + uuid.uuid4().hex,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    consumer.subscribe([topic])
    deadline = time.monotonic() + float(os.environ.get("CDCD_FOREIGN_TIMEOUT", "120"))
    seen = 0
    try:
        while seen < count:
            if time.monotonic() > deadline:
                sys.exit("%d of %d records of %s before the deadline" % (seen, count, topic))
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                # The topic may not exist yet when the reader starts: wait for it.
                if msg.error().retriable() or msg.error().code() in (
                        KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                raise KafkaException(msg.error())
            line = {
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": decode(msg.key(), MessageField.KEY),
                "value": decode(msg.value(), MessageField.VALUE),
            }
            print(json.dumps(line), flush=True)
            seen += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
