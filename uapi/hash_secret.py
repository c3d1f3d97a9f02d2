"""`uapi hash-secret`: print the Argon2id hash of a client secret, for a directory's `clientSecret`.

The secret is read from standard input (one line) or asked for on a terminal, never taken
from the command line, where it would land in shell history and in `ps`.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from uapi.client_secrets import hash_secret


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Reads the secret from standard input, or asks for it on a terminal; prints the hash."


def run(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        secret = getpass.getpass("client secret: ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        print("uapi hash-secret: error: the secret is empty", file=sys.stderr)
        return 2
    print(hash_secret(secret))
    return 0
