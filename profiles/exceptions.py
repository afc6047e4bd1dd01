"""The root of every exception ambience raises on purpose, so a caller (the CLI, a test, a tool) can catch one type.

It lives in `profiles`, the package every other imports and which imports nothing of ours; each exception lives
with the noun it is about (httpx `_exceptions.py` draws its tree the same way).

    AmbienceError
     +-- ProfileError (ValueError)        profiles/errors.py: a profile or venue config is invalid; FieldErrors
     +-- PreconditionFailed               profiles/store.py: an If-Match no longer matches the latest version
     +-- CommunityExists (ValueError)     profiles/communities.py: a community id is taken
     +-- HueError                         devices/hue_client.py: a Hue bridge did not do what was asked
     |    +-- HueUnreachable              it cannot be reached (refused, timed out, not HTTP)
     |    +-- HueApiError                 it answered with an error (type, address, description)
     |         +-- HueUnauthorized        it does not know our username
     |         +-- HueLinkButtonNotPressed  pairing needs its button
     +-- RecordError (RuntimeError)       controller/shell/record.py: the event record cannot be written: stop
     +-- UnstorableEvent (ValueError)     controller/shell/record.py: this event cannot be stored: reject its input
     +-- BrokerError (RuntimeError)       controller/cli/broker.py: a broker for the demo or tests would not start
"""

from __future__ import annotations

__all__ = ["AmbienceError"]


class AmbienceError(Exception):
    """Something ambience says went wrong, in words meant for the person running it."""
