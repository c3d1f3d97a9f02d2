"""The real switch: SIP phones and trunks through Kamailio, calls placed by our own 3pcc engine."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uapi.switch.sip.switch import SipSwitch

__all__ = ["SipSwitch"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the engine's modules import this package's submodules.
    if name == "SipSwitch":
        from uapi.switch.sip.switch import SipSwitch

        return SipSwitch
    raise AttributeError(name)
