"""Parsing and building SIP messages, SDP stamping and the leg's request builders."""
from __future__ import annotations

import pytest

from uapi.switch.sip import sdp
from uapi.switch.sip.leg import SipLeg
from uapi.switch.sip.message import ParseError, TruncatedBody, host_port, param, parse, response, split_list, uri_of

INVITE = (b"INVITE sip:210@example.org SIP/2.0\r\n"
          b"v: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK2\r\n"
          b"f: \"A, B\" <sip:a@x>;tag=1\r\nt: <sip:210@example.org>\r\ni: abc@x\r\nCSeq: 7 INVITE\r\n"
          b"Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\nm: <sip:a@10.0.0.2:5062>\r\n"
          b"X-UAPI-Caller: 0003*210\r\nl: 4\r\n\r\nv=0\r\nEXTRA")


def test_parse_compact_names_lists_and_content_length():
    msg = parse(INVITE)
    assert msg.method == "INVITE" and msg.uri == "sip:210@example.org"
    assert len(msg.all("via")) == 2 and msg.branch == "z9hG4bK1"
    assert msg.all("record-route") == ["<sip:p1;lr>", "<sip:p2;lr>"]
    assert msg["from"] == '"A, B" <sip:a@x>;tag=1' and param(msg["from"], "tag") == "1"
    assert msg.cseq == (7, "INVITE") and msg.call_id == "abc@x"
    assert msg.body == b"v=0\r"                        # extra bytes discarded (RFC 3261 18.3)
    assert msg.get("x-uapi-caller") == "0003*210"


def test_round_trip_keeps_headers_and_recomputes_length():
    msg = parse(INVITE)
    again = parse(msg.to_bytes())
    assert again.headers == [h for h in msg.headers if h[0] != "content-length"] + [("content-length", "4")]
    assert again.body == msg.body


@pytest.mark.parametrize("garbage", [b"", b"\r\n\r\n", b"HELLO", b"INVITE sip:x SIP/2.0\r\n\r\n",
                                     b"SIP/2.0 999 X\r\n\r\n", b"\xff\xfe\x00",
                                     INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: x INVITE"),
                                     INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: 7 BYE"),
                                     INVITE.replace(b"l: 4", b"l: four")])
def test_malformed_input_raises_parse_error(garbage):
    with pytest.raises(ParseError):
        parse(garbage)


def test_body_shorter_than_content_length_is_truncated_error():
    with pytest.raises(TruncatedBody) as info:
        parse(INVITE.replace(b"l: 4", b"l: 400"))
    assert info.value.message.method == "INVITE"


def test_response_copies_dialog_headers_and_adds_our_tag():
    resp = response(parse(INVITE), 200, to_tag="me")
    text = resp.to_bytes().decode()
    assert text.startswith("SIP/2.0 200 OK\r\n")
    assert parse(resp.to_bytes())["to"] == "<sip:210@example.org>;tag=me"
    assert resp.all("record-route") == ["<sip:p1;lr>", "<sip:p2;lr>"]
    assert response(parse(INVITE), 486).all("record-route") == []


def test_uri_helpers():
    assert uri_of('"x" <sip:a@h:5070;transport=udp>;tag=1') == "sip:a@h:5070;transport=udp"
    assert host_port("sip:a@h:5070;transport=udp") == ("h", 5070)
    assert host_port("sip:h") == ("h", 5060)
    assert split_list('<sip:a,b>, "c,d" <sip:e>') == ["<sip:a,b>", '"c,d" <sip:e>']


PHONE = (b"v=0\r\no=phone 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
         b"m=audio 6000 RTP/AVP 0\r\na=sendrecv\r\nm=video 6002 RTP/AVP 96\r\n")


def test_origin_is_restamped_per_leg_and_version_only_grows():
    origin = sdp.Origin("127.0.0.1", session_id=42)
    first = origin.empty_offer()
    assert b"o=- 42 1 IN IP4 127.0.0.1" in first and sdp.media_count(first) == 0
    second = origin.stamp(PHONE)
    assert b"o=- 42 2 IN IP4 127.0.0.1" in second and b"c=IN IP4 10.0.0.9" in second


def test_never_fewer_m_lines_than_before():
    origin = sdp.Origin("127.0.0.1", session_id=42)
    origin.stamp(PHONE)
    fewer = origin.stamp(b"v=0\r\no=x 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n")
    assert sdp.media_count(fewer) == 2 and fewer.endswith(b"m=audio 0 RTP/AVP 0\r\n")


def test_hold_marks_every_stream_inactive_and_resume_removes_it():
    held = sdp.with_direction(PHONE, "inactive")
    assert held.count(b"a=inactive") == 2 and b"a=sendrecv" not in held
    assert held.index(b"a=inactive") < held.index(b"m=video")
    assert sdp.direction_of(held) == "inactive"
    resumed = sdp.with_direction(held, "sendrecv")
    assert b"a=inactive" not in resumed and sdp.direction_of(resumed) == "sendrecv"


def make_leg(**kw) -> SipLeg:
    return SipLeg("c1", "210", "uac", "x@h", local="<sip:uapi@d>;tag=L", remote="<sip:210@d>",
                  contact="sip:uapi@127.0.0.1:5070", via_host="127.0.0.1:5070",
                  remote_target="sip:210@d", destination=("127.0.0.1", 5080), **kw)


def test_dialog_takes_target_and_reversed_route_set_from_the_2xx():
    leg = make_leg()
    leg.invite = leg.request("INVITE", b"", cseq=1)
    ok = parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKq\r\n"
               b"From: <sip:uapi@d>;tag=L\r\nTo: <sip:210@d>;tag=R\r\nCall-ID: x@h\r\nCSeq: 1 INVITE\r\n"
               b"Record-Route: <sip:p2;lr>, <sip:p1:5090;lr>\r\nContact: <sip:210@10.0.0.5:5062>\r\n\r\n")
    leg.confirm(ok)
    leg.state = "confirmed"
    assert leg.remote_tag == "R" and leg.remote_target == "sip:210@10.0.0.5:5062"
    assert leg.route_set == ["<sip:p1:5090;lr>", "<sip:p2;lr>"] and leg.next_hop() == ("p1", 5090)
    bye = leg.request("BYE")
    assert bye.uri == "sip:210@10.0.0.5:5062" and bye.cseq == (2, "BYE")
    assert bye.all("route") == leg.route_set and bye.branch != leg.invite.branch
    assert param(bye["to"], "tag") == "R" and param(bye["from"], "tag") == "L"


def test_cancel_copies_the_invite_branch_cseq_number_and_routes():
    leg = make_leg()
    leg.invite = leg.request("INVITE", b"", cseq=1)
    leg.invite.headers.append(("route", "<sip:proxy;lr>"))
    cancel = leg.cancel()
    assert cancel.branch == leg.invite.branch and cancel.cseq == (1, "CANCEL")
    assert cancel.uri == leg.invite.uri and cancel.all("route") == ["<sip:proxy;lr>"]
    assert cancel.get("max-forwards") == "70"


def test_record_of_an_early_leg_holds_what_a_cancel_needs():
    leg = make_leg()
    leg.invite = leg.request("INVITE", b"", cseq=1)
    rec = leg.record()
    assert rec["state"] == "calling" and parse(rec["invite"].encode()).branch == leg.invite.branch
    leg.state = "confirmed"
    assert "invite" not in leg.record()
