"""The real switch: SIP phones and trunks through Kamailio, calls placed by our own 3pcc engine."""
