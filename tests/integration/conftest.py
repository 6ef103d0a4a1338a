"""Fixtures of the live-gateway tier: a real OpenClaw gateway over a scripted model server.

Everything here is marked `gateway` (pytest.ini). Session-scoped, started once:
- `openclaw_pkg`: the openclaw npm package + Node 24 (.ci/install-openclaw, cached). When they
  cannot be had, the tier is skipped, or fails under PARALLEL_AGENTS_REQUIRE_OPENCLAW=1 (CI).
- `model_server`: tests/integration/model_server.py on a free loopback port; `.requests(since)`
  returns what the gateway asked it (model, first line of the task, kind of answer).
- `gateway_factory(allow_spawn=True)`: `openclaw gateway run` with an isolated HOME, state dir
  and config (tests/integration/openclaw_gateway.py: gateway_config), token auth on a free
  loopback port, in its own process group; ready when /health is live and /readyz answers 200,
  then warmed up with one run. One gateway per variant per session; all are killed (group and
  helpers) at the end. `allow_spawn=False` leaves sessions_spawn on the HTTP deny list.
- `gateway`: the default variant (gateway.tools.allow = ["sessions_spawn"]).
- `scripted_config`: our Config with tiers fast/balanced/strongest -> scripted/<tier>.
- `registry`: the shipped agent registry, loaded once.
Function-scoped: `caller` (a GatewayToolCaller on `gateway`), `nonce` (unique text per test:
task ids are content hashes and spawn labels derive from them, so tests never share labels on
the shared gateway).
"""
from __future__ import annotations

import os
import secrets
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]  # same value as tests/conftest.py's REPO (`from conftest import REPO` may land here)
for path in (str(REPO), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import openclaw_gateway as og  # noqa: E402

OpenClaw = namedtuple("OpenClaw", "pkg node version")
REQUIRE_ENV = "PARALLEL_AGENTS_REQUIRE_OPENCLAW"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.gateway)


@pytest.fixture(scope="session")
def openclaw_pkg() -> OpenClaw:
    try:
        pkg, node = og.find_openclaw()
    except og.OpenClawUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"OpenClaw is required ({REQUIRE_ENV}=1) but unavailable: {exc}", pytrace=False)
        pytest.skip(f"OpenClaw unavailable: {exc}")
    return OpenClaw(pkg, node, og.openclaw_version(pkg))


@pytest.fixture(scope="session")
def live_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("openclaw-live")


@pytest.fixture(scope="session")
def model_server(openclaw_pkg, live_dir):
    server = og.ModelServer.start(live_dir / "model-server")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gateway_factory(openclaw_pkg, model_server, live_dir):
    """start(allow_spawn=True) -> a ready, warmed-up Gateway; one per variant per session."""
    started: dict[bool, og.Gateway] = {}

    def start(allow_spawn: bool = True) -> og.Gateway:
        if allow_spawn not in started:
            folder = live_dir / ("gateway" if allow_spawn else "gateway-no-spawn")
            gateway = og.Gateway.start(openclaw_pkg.pkg, openclaw_pkg.node, folder, model_server.url,
                                       allow_spawn=allow_spawn)
            started[allow_spawn] = gateway
            if allow_spawn:
                try:
                    og.warm_up(gateway)
                except BaseException:
                    gateway.stop()
                    del started[allow_spawn]
                    raise
        gateway = started[allow_spawn]
        if gateway.proc.poll() is not None:
            pytest.fail(f"the gateway died (exit {gateway.proc.returncode}):\n{gateway.log_tail()}",
                        pytrace=False)
        return gateway

    try:
        yield start
    finally:
        for gateway in started.values():
            gateway.stop()


@pytest.fixture(scope="session")
def gateway(gateway_factory) -> og.Gateway:
    return gateway_factory(allow_spawn=True)


@pytest.fixture
def caller(gateway):
    from parallel_agents.openclaw.gateway import GatewayToolCaller
    return GatewayToolCaller(gateway.url, gateway.token, timeout_s=60)


@pytest.fixture(scope="session")
def scripted_config():
    return og.scripted_config()


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    home = tmp_path_factory.mktemp("live-registry-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PARALLEL_AGENTS_HOME", str(home))
        from parallel_agents.definitions.registry import Registry
        return Registry.load(overlay=None)


@pytest.fixture
def nonce() -> str:
    return f"{time.strftime('%H%M%S')}-{secrets.token_hex(4)}"
