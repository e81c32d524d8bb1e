"""The demo plugin (tests/data/demo_plugin) installed into a folder, for the sweep tests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernels import _registry

PLUGIN = Path(__file__).parents[2] / "data" / "demo_plugin"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """The demo plugin installed with pip into a folder of its own."""
    site = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    subprocess.run(["cp", "-r", str(PLUGIN), str(build)], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(build / PLUGIN.name),
        ],
        check=True,
    )
    return site


def plugin_env(site):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def with_plugin(plugin_site, monkeypatch):
    """This process and the workers it spawns see the plugin's backends."""
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.setenv("PYTHONPATH", plugin_env(plugin_site)["PYTHONPATH"])
    monkeypatch.setattr(_registry, "_registry", {})
    monkeypatch.setattr(_registry, "_discovered", False)
    yield
    sys.modules.pop("convbench_demo", None)


