"""Publishes messages with the independent paho-mqtt client at QoS 1 and waits for every PUBACK.

usage: mqtt_publish.py PORT TOPIC PAYLOAD [TOPIC PAYLOAD ...]
"""
import json
import sys

import paho.mqtt.client as mqtt


def main(port, pairs):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="vedetta-test-paho", protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in pairs]
    for info in infos:
        info.wait_for_publish(timeout=10)
    client.loop_stop()
    client.disconnect()
    print(json.dumps({"published": sum(1 for i in infos if i.is_published())}))


if __name__ == "__main__":
    args = sys.argv[2:]
    main(int(sys.argv[1]), list(zip(args[0::2], args[1::2])))
