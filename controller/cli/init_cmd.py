"""`ambience init`: a starter venue in a folder, so a new operator starts from a config that already passes
`ambience check` instead of from a blank page.

It writes `venue.yaml` (commented, no devices yet), `profiles/house.yaml` (the default mood that
`policy.default_profile: house` names) and `.env` with a generated admin token (mode 0600: it is a secret). It asks
nothing: the venue id defaults to a slug of the folder's name (else the host name), and every other value to what a
Pi next to its own Mosquitto wants. Existing files are never overwritten without `--force`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import socket
from pathlib import Path
from typing import TextIO

from profiles.errors import ProfileError
from profiles.loader import parse_document, parse_venue
from profiles.units import SLUG_PATTERN

__all__ = ["HOUSE_PROFILE", "init", "slug"]

EXIT_OK, EXIT_INVALID = 0, 1
TOKEN_ENV = "AMBIENCE_ADMIN_TOKEN"
MAX_NAME = 100

# Kept equal to examples/profiles/house.yaml (a test compares them); inlined because examples/ is not installed.
HOUSE_PROFILE = """\
# The house mood: what the room is when no community is eligible (policy.default_profile: house).
community_id: house
name: House calm
lighting: {on: true, brightness: 60, color_temp_k: 3000, transition_s: 5}
climate: {target_c: 21, mode: auto}
audio: {playlist: house-jazz, volume: 20, state: play}
scent: {name: white-tea, intensity: 10}
"""

VENUE_TEMPLATE = """\
# {name}: written by `ambience init`. Validate with `ambience check venue.yaml profiles/*.yaml`.
# Secrets never go in this file: it names the environment variables that hold them (see .env next to it).
venue: {{id: {venue_id}, name: {name_json}}}   # the id appears in MQTT topics: ambience/{venue_id}/...

mqtt:
  url: "mqtt://127.0.0.1:1883"   # the Mosquitto next to the controller (deploy/mosquitto/ambience.conf)
  # It must keep what it acknowledges: persistence on, in a folder its own user owns (Debian's /var/lib/mosquitto/).
  # `ambience run` checks at every connect and warns when the broker lost its messages across a restart.
  username: null
  password: null                 # always null: put the password in .env and name its variable below
  # password_env: MQTT_PASSWORD
  base_topic: zigbee2mqtt        # Zigbee2MQTT's base_topic; device topics live under it

api: {{host: 127.0.0.1, port: 8000, admin_token_env: {token_env}}}   # 0.0.0.0 to reach it from the LAN

store: {{path: ./data/ambience.db, retention_days: 90}}   # event record and profiles; relative to this file's folder

influx: {{url: null, token_env: INFLUX_TOKEN, org: venue, bucket: ambience}}   # optional forwarder; null = off

home_assistant: {{discovery: true, prefix: homeassistant}}   # entities in a Home Assistant on this broker

limits: {{max_volume: 70, min_temp_c: 18, max_temp_c: 26, min_brightness: 5}}   # applied last, always

policy: {{multi_community: majority, checkin_ttl_hours: 6, default_profile: house, override_minutes: 30}}
# multi_community: majority | blend | priority; default_profile is profiles/house.yaml's community_id

priority: []   # community ids in order of precedence, for multi_community: priority (bookings)

zones: [main]   # the parts of the room lit and played separately, e.g. [bar, lounge]

profiles_dir: profiles   # seeded into the store at start; relative to this file's folder

# A Hue bridge (run `ambience hue pair --host 192.168.1.20` first, put the username in .env as HUE_USERNAME,
# then `ambience hue lights --config venue.yaml` lists its lights; docs/hue.md):
# hue_bridges:
#   main: {{host: "192.168.1.20", username_env: HUE_USERNAME}}

devices: []   # none yet: replace [] with a list like the one below (zone "*" serves every zone)
# devices:
#   - {{id: main-pendant, kind: light, zone: main, driver: mqtt, topic: main_pendant}}   # Zigbee2MQTT friendly name
#   - {{id: main-hue-1, kind: light, zone: main, driver: hue, bridge: main, light: 1}}   # needs hue_bridges.main
#   - {{id: hvac, kind: thermostat, zone: "*", driver: mqtt, topic: hvac}}
"""

ENV_TEMPLATE = """\
# Secrets of venue.yaml, read from the environment (never from venue.yaml). Keep this file private (mode 0600).
# systemd reads it with EnvironmentFile=; in a shell: set -a; . ./.env; set +a
# The API's admin token (Authorization: Bearer ...):
{token_env}={token}
# INFLUX_TOKEN=
# HUE_USERNAME=
# MQTT_PASSWORD=
"""


def slug(text: str) -> str:
    """`Teahouse on 5th` -> `teahouse-on-5th`: lower case, runs of other characters become one dash."""
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-_")[:64].strip("-_")


def _default_id(folder: Path) -> str:
    return slug(folder.resolve().name) or slug(socket.gethostname()) or "venue"


def _write_private(path: Path, text: str) -> None:
    """Created 0600 from the first byte (no window in which another user can read the token)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)  # an existing file (--force) keeps its old mode otherwise


def init(folder: Path, *, venue_id: str | None, name: str | None, force: bool, out: TextIO, err: TextIO) -> int:
    """Write the starter venue into `folder`; 0, or 1 with one `error:` line (nothing written then)."""
    venue_id = _default_id(folder) if venue_id is None else venue_id
    if not re.fullmatch(SLUG_PATTERN, venue_id):
        print(f"error: --venue-id: {venue_id!r} must be lower case letters, digits, - and _ (up to 64)", file=err)
        return EXIT_INVALID
    name = (venue_id.replace("-", " ").replace("_", " ").capitalize() if name is None else name).strip()
    if not name or len(name) > MAX_NAME or "\n" in name:
        print(f"error: --name: must be one line of 1-{MAX_NAME} characters", file=err)
        return EXIT_INVALID

    venue_text = VENUE_TEMPLATE.format(venue_id=venue_id, name=name, name_json=json.dumps(name), token_env=TOKEN_ENV)
    try:  # the starter must pass `ambience check`; a template mistake is a bug, said in one line
        parse_venue(parse_document(venue_text, ".yaml", "venue.yaml"))
    except ProfileError as exc:
        print(f"error: the starter venue.yaml is invalid: {'; '.join(exc.lines())}", file=err)
        return EXIT_INVALID

    files = {
        folder / "venue.yaml": venue_text,
        folder / "profiles" / "house.yaml": HOUSE_PROFILE,
        folder / ".env": ENV_TEMPLATE.format(token_env=TOKEN_ENV, token=secrets.token_urlsafe(32)),
    }
    existing = [str(path) for path in files if path.exists()]
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        print(f"error: {', '.join(existing)} already {verb}; nothing written (--force overwrites)", file=err)
        return EXIT_INVALID
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.name == ".env":
                _write_private(path, text)
            else:
                path.write_text(text)
    except OSError as exc:
        print(f"error: cannot write {exc.filename or folder}: {exc.strerror or exc}", file=err)
        return EXIT_INVALID

    venue_file, house_file, env_file = files
    print(f"wrote {venue_file} (venue {venue_id}, no devices yet)", file=out)
    print(f"wrote {house_file} (the default profile)", file=out)
    print(f"wrote {env_file} ({TOKEN_ENV}, the API's admin token; mode 0600)", file=out)
    venue_arg, house_arg = shlex.quote(str(venue_file)), shlex.quote(str(house_file))
    # `. .env` would search PATH in sh: say `./.env`
    sourced = shlex.quote(str(env_file) if os.sep in str(env_file) else f".{os.sep}{env_file}")
    print("next:", file=out)
    print(f"  ambience check {venue_arg} {house_arg}", file=out)
    print(f"  set -a; . {sourced}; set +a   # puts {TOKEN_ENV} in the environment", file=out)
    print(f"  ambience run --config {venue_arg}", file=out)
    return EXIT_OK
