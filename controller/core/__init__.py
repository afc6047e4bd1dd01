"""The venue's judgement, pure: who is here, what the room should be, what to send, what happened.

Values in, values out; time is an argument. No I/O: no sockets, files, threads, clocks or event loop (enforced by
tests/unit/test_layering.py), so every rule here is tested in microseconds without a broker.
"""
