"""The real switch: SIP phones and trunks through Kamailio, calls placed by our own 3pcc engine.

`uapi.switch.sip.switch.SipSwitch` is the engine the server injects for `--switch sip`.
"""
