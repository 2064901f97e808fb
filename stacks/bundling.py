"""Docker-free bundling of the functions/ folder into the one Lambda asset.

CDK calls ``try_bundle`` before it would fall back to Docker. It copies the source tree into the
asset's output directory and pip-installs ``requirements.txt`` for the Lambda platform (Python
3.13, arm64) from wheels only, so no compiler and no container is involved. Any failure raises:
a silently incomplete asset would only show up as an ImportError at run time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

# Never part of the asset: caches, bytecode, virtual environments, editor and test leftovers.
ASSET_EXCLUDES: tuple[str, ...] = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
    "*.egg-info",
    ".DS_Store",
)

LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PLATFORM = "manylinux2014_aarch64"


class BundlingError(RuntimeError):
    """The asset could not be built; synthesis must stop."""


def _has_requirements(path: Path) -> bool:
    if not path.is_file():
        return False
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.split("#", 1)[0].strip()
        if stripped:
            return True
    return False


def _ignore(patterns: Iterable[str]) -> Any:
    return shutil.ignore_patterns(*patterns)


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Copy ``source`` to the output directory, then ``pip install --target`` its requirements."""

    def __init__(
        self,
        *,
        source: Path,
        requirements_file: str = "requirements.txt",
        python_version: str = LAMBDA_PYTHON_VERSION,
        platform: str = LAMBDA_PLATFORM,
        python_executable: str | None = None,
        excludes: Sequence[str] = ASSET_EXCLUDES,
    ) -> None:
        self._source = source
        self._requirements = source / requirements_file
        self._python_version = python_version
        self._platform = platform
        self._python = python_executable or sys.executable
        self._excludes = tuple(excludes)

    def pip_command(self, target: str) -> list[str]:
        return [
            self._python,
            "-m",
            "pip",
            "install",
            "--requirement",
            str(self._requirements),
            "--target",
            target,
            "--platform",
            self._platform,
            "--implementation",
            "cp",
            "--python-version",
            self._python_version,
            "--only-binary=:all:",
            "--no-compile",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
        ]

    # ILocalBundling.tryBundle(outputDir, options): jsii passes the BundlingOptions struct as
    # keyword arguments when the method has keyword-only parameters, hence ``*, image``.
    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        if not self._source.is_dir():
            raise BundlingError(f"Lambda source folder {self._source} does not exist")
        shutil.copytree(
            self._source, output_dir, ignore=_ignore(self._excludes), dirs_exist_ok=True
        )
        if _has_requirements(self._requirements):
            env = {**os.environ, "PIP_NO_INPUT": "1"}
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                self.pip_command(output_dir),
                capture_output=True,
                text=True,
                check=False,
                env=env,
            )
            if result.returncode != 0:
                raise BundlingError(
                    "pip could not install the Lambda dependencies from "
                    f"{self._requirements} for {self._platform} / Python {self._python_version} "
                    f"(exit {result.returncode}). Is the package index reachable?\n"
                    f"{result.stdout}\n{result.stderr}"
                )
        return True


def function_code(source: Path) -> lambda_.AssetCode:
    """One asset of ``source``, bundled locally; its hash is the source's, so an unchanged
    folder is not re-bundled when the output directory already holds it."""
    if not source.is_dir():
        raise BundlingError(f"Lambda source folder {source} does not exist")
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=AssetHashType.SOURCE,
        exclude=list(ASSET_EXCLUDES),
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds or raises, so Docker is never used.
            image=DockerImage.from_registry("local-bundling-only"),
            local=PipLocalBundling(source=source),
        ),
    )
