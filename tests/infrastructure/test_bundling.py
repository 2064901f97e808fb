"""The Docker-free Lambda asset: what it contains, and that a failed pip install stops synth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.bundling import BundlingError, PipLocalBundling

from .conftest import Synth


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
