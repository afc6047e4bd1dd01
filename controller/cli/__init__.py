"""The outer layer: the `ambience` command line, the demo, the brokers it and the tests start, `init`, Hue pairing,
logging set-up, and serving the API. May import everything, the API included.
"""
