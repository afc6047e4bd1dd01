"""docker-compose.yml, Dockerfile and their files (deploy/compose/, deploy/grafana/, .env.example) are valid and
hold together; what can run here does run.

There is no Docker engine here, so no image is built or started. Instead:
- the compose file is read as YAML and checked service by service (a local build whose context and Dockerfile exist,
  or a public image with an explicit version tag; bind mounts that exist; named volumes declared; the `demo`
  profile; dependencies and health checks; secrets only from .env, with a clear message when one is missing);
- Debian's docker-compose 1.29 validates it against the Compose Specification (`docker-compose config`, which
  needs no engine); modern `docker compose` does too where it is installed;
- the Dockerfile is parsed (pinned base, non-root user, COPY sources that exist and reach the build context);
- the containers' own files run on loopback with the same programs the images hold: Debian's Mosquitto with
  deploy/compose/mosquitto.conf answers the compose health check; `ambience run` and `ambience sim` with
  deploy/compose/venue.yaml (only host names, ports and the data path substituted, each by one exact replacement)
  answer the image's HEALTHCHECK and fill victoria-metrics (standing in for InfluxDB 2) with every series the
  Grafana dashboard charts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.cli.broker import die_with_parent, find_mosquitto, free_port, wait_for_port
from testkit.victoria import VictoriaMetrics
from testkit.waiting import wait_until_sync
from tests.e2e.cli import Proc, cli_env, started

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_DIR = ROOT / "deploy" / "compose"
VENUE_FILE = COMPOSE_DIR / "venue.yaml"
MOSQUITTO_CONF = COMPOSE_DIR / "mosquitto.conf"
DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "ambience.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "ambience.json"

SERVICES = {"mosquitto", "controller", "simulator", "influxdb", "grafana"}
SECRETS = ("AMBIENCE_ADMIN_TOKEN", "INFLUX_TOKEN", "INFLUX_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD")
# An explicit release: name:MAJOR.MINOR.PATCH (optionally a suffix such as -alpine), never latest or a moving major.
PINNED_IMAGE = re.compile(r"^[a-z0-9][a-z0-9./_-]*:\d+\.\d+\.\d+(?:-[a-z0-9.-]+)?$")
PINNED_PYTHON = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")
VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")

pytestmark = pytest.mark.integration


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def with_defaults(text: str) -> str:
    """A compose value as it is without a .env: `${VAR:-default}` is the default, a required `${VAR:?...}` is VAR."""
    return VARIABLE.sub(lambda m: m.group(3) if m.group(2) == "-" else f"<{m.group(1)}>", text)


def variables(text: str) -> dict[str, str | None]:
    """Each variable a text uses, with how: '-' has a default, '?' is required, None is plain."""
    return {m.group(1): m.group(2) for m in VARIABLE.finditer(text)}


def env_example() -> dict[str, str]:
    """The assignments of .env.example, commented-out optional ones included (`# NAME=value`)."""
    found = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$", line):
            found[m.group(1)] = m.group(2)
    return found


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r} in the shipped file"
    return text.replace(old, new)


# -- docker-compose.yml, read as YAML ------------------------------------------------------------------------------


def test_the_compose_file_is_the_compose_specification_with_the_five_services() -> None:
    data = compose()
    assert "version" not in data, "the Compose Specification has no version key (docker compose warns about it)"
    assert set(data) <= {"services", "volumes", "networks", "configs", "secrets"} | {k for k in data if k[:2] == "x-"}
    assert set(data["services"]) == SERVICES


def test_every_service_is_built_here_or_a_public_image_with_a_pinned_version() -> None:
    for name, service in services().items():
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert context.is_dir(), f"{name}: build context {context} does not exist"
            assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), name
            assert service.get("pull_policy") == "build", f"{name}: its image is built here, never pulled"
        else:
            image = service.get("image", "")
            assert PINNED_IMAGE.match(image), f"{name}: image {image!r} must name an exact version (name:X.Y.Z)"


def test_bind_mounts_exist_in_the_repository_and_volumes_are_declared() -> None:
    declared = set(compose()["volumes"])
    used = set()
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source, target, *mode = with_defaults(volume).split(":")
            assert target.startswith("/"), f"{name}: {volume}"
            if source.startswith((".", "/", "~")):  # a bind mount: of the repository's files, by default
                assert source.startswith("./"), f"{name}: {source} must be relative to docker-compose.yml"
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist in the repository"
                assert mode == ["ro"], f"{name}: configuration is mounted read-only ({volume})"
            else:
                assert source in declared, f"{name}: volume {source} is not declared at the top level"
                used.add(source)
    assert used == declared, f"declared but unused volumes: {declared - used}"


def test_the_simulator_runs_only_with_the_demo_profile() -> None:
    for name, service in services().items():
        assert service.get("profiles") == (["demo"] if name == "simulator" else None), name
    assert services()["simulator"]["command"][0] == "sim"
    assert services()["simulator"]["healthcheck"] == {"disable": True}, "it has no HTTP API for the image's check"


def test_services_wait_for_what_they_need_and_what_they_wait_for_can_be_healthy() -> None:
    wanted = {
        "controller": {"mosquitto": "service_healthy", "influxdb": "service_started"},
        "simulator": {"mosquitto": "service_healthy"},
        "grafana": {"influxdb": "service_healthy"},
    }
    for name, service in services().items():
        depends = {dep: spec["condition"] for dep, spec in service.get("depends_on", {}).items()}
        assert depends == wanted.get(name, {}), name
        for dep, condition in depends.items():
            if condition == "service_healthy":
                test = services()[dep]["healthcheck"]["test"]
                assert test[0] == "CMD" and len(test) > 1, f"{dep} needs a health check for {name} to wait on"
    for name in ("mosquitto", "controller", "influxdb", "grafana"):
        assert services()[name]["restart"] == "unless-stopped", name


def test_secrets_come_only_from_env_and_a_missing_one_stops_compose_with_its_name() -> None:
    example = env_example()
    for name, service in services().items():
        for key, value in service.get("environment", {}).items():
            if re.search(r"TOKEN|PASSWORD|SECRET|USERNAME$", key):
                used = variables(str(value))
                assert used, f"{name}: {key} must come from .env, not from the compose file"
                for var, how in used.items():
                    if var in SECRETS:
                        assert how == "?", f"{name}: {key} must be required: ${{{var}:?message}}"
                        assert f"set {var} in .env" in str(value), f"{name}: say what to do when {var} is missing"
                    else:
                        assert how == "-", f"{name}: {key} is optional: ${{{var}:-}}"
    for secret in SECRETS:
        assert example[secret] == "", f".env.example must not carry a value for {secret}"


def test_every_compose_variable_is_described_in_env_example() -> None:
    used = variables(COMPOSE_FILE.read_text(encoding="utf-8"))
    missing = set(used) - set(env_example())
    assert not missing, f"variables of docker-compose.yml that .env.example does not describe: {sorted(missing)}"


def test_published_ports_listen_on_loopback_unless_env_says_otherwise() -> None:
    for name, service in services().items():
        for port in service.get("ports", []):
            bind, host_port, container_port = with_defaults(port).split(":")
            assert bind == "127.0.0.1", f"{name}: {port} must default to this host only"
            assert host_port == container_port, f"{name}: {port}"
            assert variables(port), f"{name}: {port} must be adjustable from .env"


# -- the files the containers read agree with each other ---------------------------------------------------------


def container_mounts(service: str) -> dict[str, str]:
    """Container path -> host path (defaults applied) of a service's volumes."""
    mounts = {}
    for volume in services()[service]["volumes"]:
        source, target, *_ = with_defaults(volume).split(":")
        mounts[target] = source
    return mounts


def test_the_venue_config_matches_the_containers() -> None:
    venue = yaml.safe_load(VENUE_FILE.read_text(encoding="utf-8"))
    controller = services()["controller"]
    influxdb = services()["influxdb"]["environment"]
    source = yaml.safe_load(DATASOURCE.read_text(encoding="utf-8"))["datasources"][0]
    # The broker and InfluxDB by their service names, on the ports their images listen on.
    assert venue["mqtt"]["url"] == "mqtt://mosquitto:1883"
    assert "listener 1883\n" in MOSQUITTO_CONF.read_text(encoding="utf-8")
    assert venue["influx"]["url"] == "http://influxdb:8086" == source["url"]
    assert venue["influx"]["org"] == influxdb["DOCKER_INFLUXDB_INIT_ORG"] == source["jsonData"]["organization"]
    assert venue["influx"]["bucket"] == influxdb["DOCKER_INFLUXDB_INIT_BUCKET"] == source["jsonData"]["defaultBucket"]
    # The API on every interface of the container, on the port that is published and health-checked.
    assert venue["api"]["host"] == "0.0.0.0"
    [port] = controller["ports"]
    assert with_defaults(port).endswith(f":{venue['api']['port']}")
    assert dockerfile_env()["AMBIENCE_HEALTH_URL"] == f"http://127.0.0.1:{venue['api']['port']}/healthz"
    assert [str(venue["api"]["port"])] == instructions("EXPOSE")
    # Secrets by the names the config gives them.
    assert {venue["api"]["admin_token_env"], venue["influx"]["token_env"]} <= set(controller["environment"])
    # The record in the data volume; the config and its profiles where the command and profiles_dir look.
    mounts = container_mounts("controller")
    assert venue["store"]["path"].startswith("/data/") and mounts["/data"] == "ambience-data"
    assert controller["command"] == ["run", "--config", "/config/venue.yaml"] == json.loads(instructions("CMD")[0])
    assert mounts["/config/venue.yaml"] == "./deploy/compose/venue.yaml"
    assert f"/config/{venue['profiles_dir']}" in mounts
    assert container_mounts("simulator")["/config/venue.yaml"] == "./deploy/compose/venue.yaml"
    assert all(device["driver"] == "mqtt" for device in venue["devices"]), "no Hue bridge in the compose venue"


def test_the_compose_venue_and_its_profiles_pass_ambience_check() -> None:
    profiles = ROOT / container_mounts("controller")["/config/profiles"]
    files = [str(VENUE_FILE), *sorted(str(p) for p in profiles.glob("*.yaml"))]
    assert len(files) > 1, f"no profiles in {profiles}"
    result = subprocess.run(
        [sys.executable, "-m", "controller", "check", *files],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    policy = yaml.safe_load(VENUE_FILE.read_text(encoding="utf-8"))["policy"]
    assert (profiles / f"{policy['default_profile']}.yaml").is_file(), "the default profile is mounted"


# -- docker-compose config ---------------------------------------------------------------------------------------


def compose_commands() -> Iterator[list[str]]:
    """Debian's docker-compose (1.29; scripts/bootstrap.sh --test installs it) and `docker compose` where present."""
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        yield [legacy]
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            yield [docker, "compose"]


def env_file(path: Path, **values: str) -> Path:
    """.env.example with the given assignments changed, as an operator's .env."""
    lines = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    path.write_text("\n".join(lines) + "\n")
    return path


def compose_config(command: list[str], env: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`config` of the repository's compose file with `env` as its .env; none of its variables from our environment."""
    clean = {k: v for k, v in os.environ.items() if k not in env_example() and not k.startswith("COMPOSE_")}
    return subprocess.run(
        [*command, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "--env-file", str(env), "config", *extra],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def compose_tools() -> list[list[str]]:
    tools = list(compose_commands())
    if not tools:
        message = "docker-compose is not installed (scripts/bootstrap.sh --test installs Debian's)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return tools


def test_docker_compose_accepts_the_file_with_the_secrets_set(compose_tools: list[list[str]], tmp_path: Path) -> None:
    env = env_file(tmp_path / ".env", **{name: f"test-{name.lower()}-0123456789" for name in SECRETS})
    for command in compose_tools:
        result = compose_config(command, env, tmp_path)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        resolved = yaml.safe_load(result.stdout)
        assert set(resolved["services"]) == SERVICES, command
        assert resolved["services"]["simulator"]["profiles"] == ["demo"]
        assert resolved["services"]["controller"]["environment"]["INFLUX_TOKEN"] == "test-influx_token-0123456789"
        quiet = compose_config(command, env, tmp_path, "--quiet")
        assert quiet.returncode == 0 and not quiet.stdout, quiet.stderr


@pytest.mark.parametrize("secret", SECRETS)
def test_docker_compose_refuses_to_start_without_a_secret_and_says_which(
    compose_tools: list[list[str]], tmp_path: Path, secret: str
) -> None:
    values = {name: f"test-{name.lower()}-0123456789" for name in SECRETS if name != secret}
    env = env_file(tmp_path / ".env", **values)  # the secret stays as .env.example has it: empty
    for command in compose_tools:
        result = compose_config(command, env, tmp_path, "--quiet")
        assert result.returncode != 0, f"{command} accepted an empty {secret}"
        assert f"set {secret} in .env" in result.stderr, result.stderr


# -- Dockerfile and .dockerignore --------------------------------------------------------------------------------


def dockerfile_lines() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation"
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in joined]


def instructions(name: str, stage: int | None = -1) -> list[str]:
    """The arguments of every `name` instruction, in the last stage by default (None: everywhere)."""
    stages: list[list[tuple[str, str]]] = [[]]
    for instruction, args in dockerfile_lines():
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, args))
    chosen = [line for s in stages for line in s] if stage is None else stages[stage]
    return [args for instruction, args in chosen if instruction == name]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for args in instructions("ENV"):
        for m in re.finditer(r"(\w+)=(\S+)", args):
            env[m.group(1)] = m.group(2)
    return env


def test_the_image_builds_from_a_pinned_multi_arch_python_and_runs_as_a_user() -> None:
    args = dict(a.split("=", 1) for a in instructions("ARG", stage=0))
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], a.split()[0]) for a in instructions("FROM", None)]
    assert len(bases) == 2, "a build stage and a runtime stage"
    for base in bases:
        assert PINNED_PYTHON.match(base), f"FROM {base}: pin the official python:3.11.X-slim-bookworm image"
    [user] = instructions("USER")
    assert user.split(":")[0] not in ("root", "0"), user
    assert int(user.split(":")[0]) >= 10000, "a fixed uid outside the host's usual range"
    steps = "\n".join(f"{instruction} {args}" for instruction, args in dockerfile_lines())  # comments left out
    for needle in ("curl ", "wget ", "ADD ", "amd64", "arm64", "aarch64", "x86_64", "armhf"):
        assert needle not in steps, f"no download or step for one architecture only: {needle!r}"
    assert instructions("ENTRYPOINT") == ['["ambience"]']
    assert instructions("VOLUME") == ['["/data"]'] and instructions("WORKDIR") == ["/data"]


def test_the_health_check_asks_healthz_with_python_not_curl() -> None:
    [check] = instructions("HEALTHCHECK")
    command = json.loads(check.split("CMD", 1)[1])
    assert command[0] == "python" and "urllib.request" in command[2] and "AMBIENCE_HEALTH_URL" in command[2]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` (relative, '/'-separated) out of the build context: the last matching
    pattern wins (`!` re-includes), and a pattern matching a parent folder matches what is inside it."""
    parts = path.split("/")
    result = False
    for line in patterns:
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]")
        for i in range(1, len(parts) + 1):
            if re.fullmatch(regex, "/".join(parts[:i])):
                result = not negate
                break
    return result


def dockerignore() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_every_copy_source_exists_and_reaches_the_build_context() -> None:
    patterns = dockerignore()
    copies = [a for a in instructions("COPY", None) if not a.startswith("--from")]
    sources = [s for a in copies for s in a.split()[:-1]]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source, patterns), f"COPY {source}: .dockerignore keeps it out of the build context"
    # Every package that pip installs is copied (a new top-level package must be added to the Dockerfile too).
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= set(sources), f"packages not copied into the image: {packages - set(sources)}"
    assert pyproject["project"]["readme"] in sources


def test_dockerignore_keeps_secrets_local_data_and_the_venv_out() -> None:
    patterns = dockerignore()
    kept_out = (".git", ".venv", ".venv/bin/python", ".env", ".env.local", "data", "data/x.db", "examples/data/x.db")
    for path in kept_out:
        assert ignored(path, patterns), path
    for path in ("controller/cli/commands.py", "api/static/index.html", "pyproject.toml", "README.md"):
        assert not ignored(path, patterns), path


# -- the containers' files, run on loopback ----------------------------------------------------------------------


class ComposeMosquitto:
    """Debian's mosquitto with deploy/compose/mosquitto.conf: the listener moved to a free loopback port and the
    persistence folder to a temp dir, nothing else."""

    def __init__(self, workdir: Path) -> None:
        binary = find_mosquitto()
        if binary is None:
            pytest.fail("mosquitto is not installed; scripts/bootstrap.sh --test installs it")
        self.port = free_port()
        (workdir / "data").mkdir(parents=True)
        conf = MOSQUITTO_CONF.read_text(encoding="utf-8")
        conf = replace_once(conf, "\nlistener 1883\n", f"\nlistener {self.port} 127.0.0.1\n")
        conf = replace_once(conf, "persistence_location /mosquitto/data/", f"persistence_location {workdir}/data/")
        if os.geteuid() == 0:  # as root it would drop to the `mosquitto` user, who cannot write into our temp dir
            conf = "user root\n" + conf
        (workdir / "mosquitto.conf").write_text(conf)
        self.log = (workdir / "mosquitto.log").open("wb")
        self.proc = subprocess.Popen(
            [binary, "-c", str(workdir / "mosquitto.conf")],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - the test thread outlives the process
        )
        self.log_path = workdir / "mosquitto.log"
        if not wait_for_port("127.0.0.1", self.port, 5.0):
            self.stop()
            pytest.fail(f"mosquitto did not start with deploy/compose/mosquitto.conf:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def compose_broker(tmp_path: Path) -> Iterator[ComposeMosquitto]:
    broker = ComposeMosquitto(tmp_path / "mosquitto")
    yield broker
    broker.stop()


def test_mosquitto_starts_with_the_compose_config_and_passes_the_compose_health_check(
    compose_broker: ComposeMosquitto,
) -> None:
    test = services()["mosquitto"]["healthcheck"]["test"]
    assert test[0] == "CMD" and shutil.which(test[1]), f"{test[1]} (mosquitto-clients) is not installed"
    command = [arg.replace("$$", "$") for arg in test[1:]]  # compose's escape for a literal $
    command[command.index("-p") + 1] = str(compose_broker.port)
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr + compose_broker.log_path.read_text()
    assert result.stdout.startswith("mosquitto version"), result.stdout


def loopback_venue(tmp_path: Path, mqtt_port: int, influx_url: str, api_port: int) -> Path:
    """deploy/compose/venue.yaml as the containers see it, with loopback addresses instead of service names, and
    the profiles the compose file mounts next to it."""
    text = VENUE_FILE.read_text(encoding="utf-8")
    text = replace_once(text, '"mqtt://mosquitto:1883"', f'"mqtt://127.0.0.1:{mqtt_port}"')
    text = replace_once(text, '"http://influxdb:8086"', f'"{influx_url}"')
    text = replace_once(text, "api: {host: 0.0.0.0, port: 8000,", f"api: {{host: 127.0.0.1, port: {api_port},")
    text = replace_once(text, "path: /data/ambience.db", f"path: {tmp_path / 'data' / 'ambience.db'}")
    config = tmp_path / "config"
    config.mkdir()
    shutil.copytree(ROOT / container_mounts("controller")["/config/profiles"], config / "profiles")
    (config / "venue.yaml").write_text(text)
    return config / "venue.yaml"


def image_health_check(api_port: int) -> subprocess.CompletedProcess[str]:
    """The Dockerfile's HEALTHCHECK command, with this venv's python and the image's environment."""
    [check] = instructions("HEALTHCHECK")
    command = json.loads(check.split("CMD", 1)[1])
    env = {**cli_env(), "AMBIENCE_HEALTH_URL": dockerfile_env()["AMBIENCE_HEALTH_URL"].replace("8000", str(api_port))}
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def dashboard_series() -> set[tuple[str, str | None, str | None]]:
    """(victoria-metrics series name, type, kind) for every field each dashboard panel charts."""
    wanted = set()
    for panel in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]:
        for target in panel["targets"]:
            query = target["query"]
            [measurement] = re.findall(r'r\._measurement == "([^"]+)"', query)
            types = re.findall(r'r\.type == "([^"]+)"', query) or [None]
            kinds = re.findall(r'r\.kind == "([^"]+)"', query) or [None]
            for field in re.findall(r'r\._field == "([^"]+)"', query):
                wanted |= {(f"{measurement}_{field}", t, k) for t in types for k in kinds}
    return wanted


def stored_series(vm: VictoriaMetrics, venue: str) -> set[tuple[str, str | None, str | None]]:
    vm.get("/internal/force_flush")
    query = urllib.parse.urlencode({"match[]": f'{{__name__=~"ambience_.+", venue="{venue}"}}'})
    found = set()
    for line in vm.get(f"/api/v1/export?{query}").splitlines():
        if line.strip():
            labels = json.loads(line)["metric"]
            found.add((labels["__name__"], labels.get("type"), labels.get("kind")))
    return found


def healthz(api_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/healthz", timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
    return body


def post(url: str, token: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        status: int = response.status
    return status


def test_the_compose_venue_runs_passes_the_image_health_check_and_feeds_every_dashboard_series(
    compose_broker: ComposeMosquitto, vm: VictoriaMetrics, tmp_path: Path
) -> None:
    api_port = free_port()
    venue_file = loopback_venue(tmp_path, compose_broker.port, vm.url, api_port)
    token = "test-admin-token-0123456789"
    env = {**cli_env(tmp_path), "AMBIENCE_ADMIN_TOKEN": token, "INFLUX_TOKEN": "test-influx-token"}
    controller_args = services()["controller"]["command"]
    simulator_args = services()["simulator"]["command"]
    assert controller_args[-1] == simulator_args[-1] == "/config/venue.yaml"
    with (
        started("controller", [*controller_args[:-1], str(venue_file)], tmp_path, "run", env) as run,
        started("controller", [*simulator_args[:-1], str(venue_file)], tmp_path, "sim", env) as sim,
    ):
        procs: tuple[Proc, ...] = (run, sim)
        wait_until_sync(lambda: image_health_check(api_port).returncode == 0, 30, "the image's health check", *procs)
        wait_until_sync(lambda: healthz(api_port)["mqtt"] == "connected", 30, "the controller on the broker", *procs)
        assert healthz(api_port)["status"] == "ok"
        for member in ("ana", "ben"):  # book-club's quorum is 2
            assert post(f"http://127.0.0.1:{api_port}/api/v1/checkins", token, {
                "member_id": member, "community_id": "book-club"}) == 201  # fmt: skip
        wanted = dashboard_series()
        seen: set[tuple[str, str | None, str | None]] = set()

        def every_series_stored() -> bool:
            nonlocal seen
            seen = stored_series(vm, "teahouse-1")
            return wanted <= seen

        try:
            wait_until_sync(every_series_stored, 60, "every series the dashboard charts", *procs, poll_s=0.5)
        except AssertionError:
            raise AssertionError(f"missing in InfluxDB: {sorted(wanted - seen)}") from None
        assert run.stop() == 0, run.describe()
        assert sim.stop() == 0, sim.describe()
