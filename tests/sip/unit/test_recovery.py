"""Requests a restarted engine sends for stored dialog records."""
from __future__ import annotations

from uapi.switch.sip.leg import SipLeg
from uapi.switch.sip.recovery import recovery_request


def leg() -> SipLeg:
    return SipLeg("c1", "210", "uac", "x@h", local="<sip:uapi@d>;tag=L", remote="<sip:210@d>;tag=R",
                  contact="sip:uapi@127.0.0.1:5070", via_host="127.0.0.1:5070",
                  remote_target="sip:210@10.0.0.5:5062", destination=("127.0.0.1", 5080))


def test_confirmed_record_gives_a_bye_above_the_stored_cseq_along_the_routes():
    confirmed = leg()
    confirmed.invite = confirmed.request("INVITE", b"", cseq=1)
    confirmed.state, confirmed.local_cseq, confirmed.route_set = "confirmed", 4, ["<sip:10.0.0.1:5090;lr>"]
    bye, dest = recovery_request(confirmed.record(), "127.0.0.1:6000")
    assert bye.method == "BYE" and bye.cseq == (5, "BYE") and bye.uri == "sip:210@10.0.0.5:5062"
    assert bye.all("route") == ["<sip:10.0.0.1:5090;lr>"] and dest == ("10.0.0.1", 5090)
    assert "127.0.0.1:6000" in bye.all("via")[0]


def test_early_record_gives_a_cancel_matching_the_stored_invite():
    early = leg()
    early.invite = early.request("INVITE", b"", cseq=1)
    early.state = "early"
    cancel, dest = recovery_request(early.record(), "127.0.0.1:6000")
    assert cancel.method == "CANCEL" and cancel.branch == early.invite.branch
    assert cancel.cseq == (1, "CANCEL") and dest == ("127.0.0.1", 5080)
