"""Sans-IO transactions stepped with a fake clock: exact RFC 3261 timer schedules."""
from __future__ import annotations

from uapi.switch.sip.message import SipMessage, parse
from uapi.switch.sip.transaction import (
    Deliver,
    InviteClient,
    NonInviteClient,
    ResponseRetransmitter,
    Send,
    TimedOut,
    Timers,
)

T = Timers(t1=0.5, t2=4.0, t4=5.0)


def request(method: str = "INVITE") -> SipMessage:
    return parse((f"{method} sip:210@example.org SIP/2.0\r\n"
                  "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\n"
                  "From: <sip:uapi@example.org>;tag=f1\r\nTo: <sip:210@example.org>\r\n"
                  f"Call-ID: c1@x\r\nCSeq: 1 {method}\r\nRoute: <sip:10.0.0.1;lr>\r\n"
                  "Content-Length: 0\r\n\r\n").encode())


def reply(status: int, method: str = "INVITE", tag: str = "t9") -> SipMessage:
    return parse((f"SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\n"
                  f"From: <sip:uapi@example.org>;tag=f1\r\nTo: <sip:210@example.org>;tag={tag}\r\n"
                  f"Call-ID: c1@x\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n").encode())


def run_until(tx, end: float) -> list[tuple[float, object]]:
    """Fire every timer up to `end`; (time, action) for each action."""
    out = []
    while tx.deadline is not None and tx.deadline <= end:
        now = tx.deadline
        out += [(now, a) for a in tx.on_timer(now)]
    return out


def test_invite_retransmits_at_t1_doubling_then_timer_b_at_64_t1():
    tx = InviteClient(request(), T, now=0.0)
    assert tx.start() == [Send(tx.data)]
    actions = run_until(tx, 100)
    sends = [t for t, a in actions if isinstance(a, Send)]
    assert sends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert actions[-1] == (32.0, TimedOut())
    assert tx.done


def test_no_timer_b_once_a_provisional_arrived():
    tx = InviteClient(request(), T, now=0.0)
    tx.start()
    assert tx.on_response(reply(180), 0.2) == [Deliver(reply(180))]
    assert run_until(tx, 1000) == []                  # rings as long as the controller wants
    assert tx.state == "proceeding"


def test_non_2xx_final_is_acked_with_the_invite_branch_and_reacked_on_retransmission():
    tx = InviteClient(request(), T, now=0.0)
    tx.start()
    actions = tx.on_response(reply(486), 0.1)
    assert isinstance(actions[0], Send) and isinstance(actions[1], Deliver)
    ack = parse(actions[0].data)
    assert ack.method == "ACK" and ack.branch == "z9hG4bKabc" and ack.cseq == (1, "ACK")
    assert ack.all("route") == ["<sip:10.0.0.1;lr>"] and "tag=t9" in ack["to"]
    assert tx.on_response(reply(486), 0.6) == [actions[0]]
    assert run_until(tx, 40) == [] and tx.done        # Timer D (32 s) ends it quietly


def test_2xx_retransmissions_reach_the_tu_in_accepted_state():
    tx = InviteClient(request(), T, now=0.0)
    tx.start()
    assert tx.on_response(reply(200), 0.1) == [Deliver(reply(200))]
    assert tx.on_response(reply(200), 0.6) == [Deliver(reply(200))]   # TU re-sends its ACK
    assert run_until(tx, 100) == [] and tx.done       # Timer M = 64*T1


def test_64_t1_after_cancel_without_final_counts_as_cancelled():
    tx = InviteClient(request(), T, now=0.0)
    tx.start()
    tx.on_response(reply(180), 0.1)
    tx.cancel_sent(10.0)
    assert run_until(tx, 100) == [(42.0, TimedOut(cancelled=True))]


def test_non_invite_timer_e_caps_at_t2_and_timer_f_at_64_t1():
    tx = NonInviteClient(request("BYE"), T, now=0.0)
    tx.start()
    actions = run_until(tx, 100)
    sends = [t for t, a in actions if isinstance(a, Send)]
    assert sends == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert actions[-1] == (32.0, TimedOut())


def test_non_invite_final_then_timer_k_absorbs_retransmissions():
    tx = NonInviteClient(request("BYE"), T, now=0.0)
    tx.start()
    assert tx.on_response(reply(200, "BYE"), 0.1) == [Deliver(reply(200, "BYE"))]
    assert tx.on_response(reply(200, "BYE"), 0.2) == []
    assert run_until(tx, 10) == [] and tx.done


def test_non_invite_provisional_retransmits_every_t2():
    tx = NonInviteClient(request("BYE"), T, now=0.0)
    tx.start()
    tx.on_response(reply(100, "BYE"), 0.1)
    sends = [t for t, a in run_until(tx, 13) if isinstance(a, Send)]
    assert sends == [0.5, 4.5, 8.5, 12.5]


def test_our_final_is_resent_until_acked_or_given_up_at_64_t1():
    tx = ResponseRetransmitter(b"SIP/2.0 200 OK", T, now=0.0)
    assert tx.start() == [Send(b"SIP/2.0 200 OK")]
    actions = run_until(tx, 100)
    sends = [t for t, a in actions if isinstance(a, Send)]
    assert sends[:5] == [0.5, 1.5, 3.5, 7.5, 11.5]
    assert actions[-1] == (32.0, TimedOut())
    acked = ResponseRetransmitter(b"x", T, now=0.0)
    acked.on_ack()
    assert acked.done and run_until(acked, 100) == []
