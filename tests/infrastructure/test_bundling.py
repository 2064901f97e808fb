"""The Docker-free Lambda asset: what it contains, and that a failed pip install stops synth."""

from __future__ import annotations

import json
import re
from email.parser import Parser
from pathlib import Path

import pytest

from stacks.bundling import BundlingError, PipLocalBundling

from .conftest import Synth

# What CPython 3.13 on Linux arm64 loads (its importlib.machinery.EXTENSION_SUFFIXES), and the
# wheel platforms the python3.13 runtime (Amazon Linux 2023, glibc 2.34) installs.
LAMBDA_EXTENSION_SUFFIX = ".cpython-313-aarch64-linux-gnu.so"
LAMBDA_GLIBC = (2, 34)
_MANYLINUX = re.compile(r"manylinux(?:2014|_(?P<major>\d+)_(?P<minor>\d+))_aarch64")


def _asset_dir(synth: Synth) -> Path:
    assets = json.loads((synth.outdir / "IncidentRunbook.assets.json").read_text())
    (directory,) = [
        asset["source"]["path"]
        for asset in assets["files"].values()
        if asset["source"].get("packaging") == "zip"
    ]
    return synth.outdir / directory


def test_asset_holds_the_handlers_and_the_runtime_dependencies(synth: Synth) -> None:
    asset = _asset_dir(synth)
    assert (asset / "handlers").is_dir()
    assert (asset / "requirements.txt").is_file()
    # functions/requirements.txt pins slack-sdk: pip installed it for the Lambda platform.
    assert (asset / "slack_sdk").is_dir()
    assert not list(asset.rglob("__pycache__"))


def _wheel_tags(asset: Path, distribution: str) -> list[str]:
    (wheel,) = asset.glob(f"{distribution}-*.dist-info/WHEEL")
    return Parser().parsestr(wheel.read_text()).get_all("Tag") or []


def _runs_on_lambda(tag: str) -> bool:
    """A wheel tag the python3.13 arm64 runtime accepts: CPython 3.13, and manylinux for
    aarch64 no newer than the runtime's glibc (manylinux2014 is manylinux_2_17)."""
    python, abi, platform = tag.split("-")
    match = _MANYLINUX.fullmatch(platform)
    if python != "cp313" or abi != "cp313" or match is None:
        return False
    glibc = (int(match["major"]), int(match["minor"])) if match["major"] else (2, 17)
    return glibc <= LAMBDA_GLIBC


def test_msgspec_is_bundled_as_the_lambda_platform_wheel(synth: Synth) -> None:
    """The steps' records need msgspec's compiled core: pip must have taken the cp313
    manylinux aarch64 wheel (this machine cannot run it, so its tags and file names are
    checked), never this machine's own build."""
    asset = _asset_dir(synth)
    assert (asset / "msgspec" / "__init__.py").is_file()
    (core,) = (asset / "msgspec").glob("_core*")
    assert core.name == "_core" + LAMBDA_EXTENSION_SUFFIX
    tags = _wheel_tags(asset, "msgspec")
    assert tags and all(_runs_on_lambda(tag) for tag in tags), tags
    version = (asset / "requirements.txt").read_text().split("msgspec==")[1].split()[0]
    assert (asset / f"msgspec-{version}.dist-info").is_dir()


def test_every_compiled_module_in_the_asset_is_for_lambda(synth: Synth) -> None:
    asset = _asset_dir(synth)
    compiled = [path for path in asset.rglob("*") if path.suffix in (".so", ".pyd", ".dylib")]
    assert compiled  # msgspec's core at least
    assert all(path.name.endswith(LAMBDA_EXTENSION_SUFFIX) for path in compiled), compiled


def test_nearly_empty_folder_bundles(tmp_path: Path) -> None:
    source = tmp_path / "functions"
    (source / "handlers").mkdir(parents=True)
    (source / "handlers" / "__init__.py").write_text("")
    (source / "handlers" / "__pycache__").mkdir()
    (source / "handlers" / "__pycache__" / "x.pyc").write_bytes(b"")
    (source / "requirements.txt").write_text("# nothing yet\n")
    out = tmp_path / "out"
    out.mkdir()
    assert PipLocalBundling(source=source).try_bundle(str(out), image=None) is True  # type: ignore[arg-type]
    assert (out / "handlers" / "__init__.py").is_file()
    assert not (out / "handlers" / "__pycache__").exists()


def test_pip_targets_the_lambda_platform(tmp_path: Path) -> None:
    command = PipLocalBundling(source=tmp_path).pip_command("/out")
    joined = " ".join(command)
    assert "--platform manylinux2014_aarch64" in joined
    assert "--python-version 3.13" in joined
    assert "--only-binary=:all:" in command
    assert "--target /out" in joined


def test_failed_install_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "functions"
    source.mkdir()
    (source / "requirements.txt").write_text("slack-sdk==3.47.0\n")
    # An index that refuses connections: what "no network" looks like to pip.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BundlingError, match="pip could not install"):
        PipLocalBundling(source=source).try_bundle(str(out), image=None)  # type: ignore[arg-type]


def test_missing_source_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(BundlingError):
        PipLocalBundling(source=tmp_path / "nope").try_bundle(str(tmp_path), image=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tag", "accepted"),
    [
        ("cp313-cp313-manylinux2014_aarch64", True),
        ("cp313-cp313-manylinux_2_28_aarch64", True),
        ("cp313-cp313-manylinux_2_39_aarch64", False),  # newer glibc than the runtime's
        ("cp313-cp313-manylinux2014_x86_64", False),
        ("cp311-cp311-manylinux2014_aarch64", False),
        ("cp313-cp313-musllinux_1_2_aarch64", False),
    ],
)
def test_the_platform_check_refuses_wheels_lambda_cannot_load(tag: str, accepted: bool) -> None:
    assert _runs_on_lambda(tag) is accepted
