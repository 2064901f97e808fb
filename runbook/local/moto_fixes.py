"""Small corrections to moto 5.2.5 bugs that a CDK-synthesised template runs into.

Each fix is narrow, names the bug it works around, and is removed again when the emulator
stops, so moto behaves as shipped for anything else in the process. The template itself is
deployed unchanged.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from moto.kms.models import Key

_installed: list[Callable[[], None]] = []


def _patch_classmethod(owner: type, name: str, replacement: Callable[..., Any]) -> None:
    original = owner.__dict__[name]
    setattr(owner, name, classmethod(replacement))
    _installed.append(lambda: setattr(owner, name, original))


def _kms_key_from_cloudformation() -> None:
    """AWS::KMS::Key: moto passes CloudFormation's ``Tags`` ({Key, Value}) to a tagger that
    expects KMS's {TagKey, TagValue} (KeyError: 'TagKey'), and stores ``KeyPolicy`` as the
    template's object where the KMS API returns a JSON string."""
    original = Key.__dict__["create_from_cloudformation_json"].__func__

    def create(
        cls: type,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        fixed = copy.deepcopy(cloudformation_json)
        properties = fixed.setdefault("Properties", {})
        properties["Tags"] = [
            {
                "TagKey": tag.get("Key", tag.get("TagKey")),
                "TagValue": tag.get("Value", tag.get("TagValue")),
            }
            for tag in properties.get("Tags", [])
        ]
        if not isinstance(properties.get("KeyPolicy", ""), str):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original(cls, resource_name, fixed, account_id, region_name, **kwargs)

    _patch_classmethod(Key, "create_from_cloudformation_json", create)


def install_moto_fixes() -> None:
    if not _installed:
        _kms_key_from_cloudformation()


def remove_moto_fixes() -> None:
    while _installed:
        _installed.pop()()
