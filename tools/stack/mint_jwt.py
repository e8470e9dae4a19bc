#!/usr/bin/env python3
"""Mint a caller JWT (HS256) for the local stack.

Usage: mint_jwt.py TENANT [--secret S] [--ttl SECONDS]
The secret defaults to $API_JWT_SECRET, then to the local stack's dev default.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import time

DEV_DEFAULT = "local-dev-jwt-secret"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(tenant: str, secret: str, ttl: int) -> str:
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = b64(json.dumps({"sub": tenant, "iat": now, "exp": now + ttl}, separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode()
    signature = b64(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return f"{header}.{claims}.{signature}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Mint a local caller JWT (HS256).")
    parser.add_argument("tenant")
    parser.add_argument("--secret", default=os.environ.get("API_JWT_SECRET", DEV_DEFAULT))
    parser.add_argument("--ttl", type=int, default=3600)
    args = parser.parse_args()
    print(mint(args.tenant, args.secret, args.ttl))
