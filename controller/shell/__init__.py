"""The venue's I/O: the MQTT bus, the event record (SQLite) and its InfluxDB forwarder, the Hue links, the broker
check, and `Service`, which composes them around the core. May import the core, never the CLI.
"""
