"""Ending legs a previous process left behind, from their stored dialog records.

A confirmed leg gets a BYE (fresh branch, CSeq above the stored one) along its route set; an
early one gets a CANCEL rebuilt from the stored INVITE (same branch and CSeq number: RFC 3261
9.1 requires it, or the phone could not match it to the INVITE).
"""
from __future__ import annotations

from typing import Any

from .message import SipMessage, host_port, new_branch, parse, uri_of


def recovery_request(record: dict[str, Any], via_host: str) -> tuple[SipMessage, tuple[str, int]]:
    if record.get("state") in ("calling", "early") and record.get("invite"):
        invite = parse(record["invite"].encode())
        headers = [("via", invite.all("via")[0]), ("max-forwards", "70"), ("from", invite["from"]),
                   ("to", invite["to"]), ("call-id", invite.call_id), ("cseq", f"{invite.cseq[0]} CANCEL")]
        headers += [("route", r) for r in invite.all("route")]
        return SipMessage(method="CANCEL", uri=invite.uri, headers=headers), tuple(record["destination"])
    routes = list(record.get("route_set") or [])
    headers = [("via", f"SIP/2.0/UDP {via_host};rport;branch={new_branch()}"), ("max-forwards", "70"),
               ("from", record["local"]), ("to", record["remote"]), ("call-id", record["sip_call_id"]),
               ("cseq", f"{int(record['local_cseq']) + 1} BYE")]
    headers += [("route", r) for r in routes]
    dest = host_port(uri_of(routes[0])) if routes else host_port(record["remote_target"])
    return SipMessage(method="BYE", uri=record["remote_target"], headers=headers), dest
