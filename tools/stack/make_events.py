#!/usr/bin/env python3
"""Writes events/<function>/<name>.json: realistic API Gateway HTTP API (payload 2.0) events,
one per route, for `cargo lambda invoke --data-file`. Routes that need a caller JWT carry the
JWT authorizer's claims (tenant `acme`), as API Gateway delivers them."""

import json
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

ROUTES = {
    "zoom-health": [
        ("health", "GET", "/api/zoom/health", "", None, False),
        ("config", "GET", "/api/zoom/config", "", None, False),
    ],
    "zoom-auth": [
        ("authorize", "GET", "/api/zoom/auth/authorize", "", None, True),
        ("browser-callback", "GET", "/api/auth/zoom/callback", "code=example-code&state=example-state", None, False),
        ("api-callback", "POST", "/api/zoom/auth/callback", "", {"code": "example-code", "state": "example-state"}, True),
        ("disconnect", "POST", "/api/zoom/auth/disconnect", "", None, True),
        ("connection-status", "GET", "/api/zoom/connection-status", "verify=false", None, True),
    ],
    "zoom-meetings": [
        ("list", "GET", "/api/zoom/meetings", "type=upcoming&page_size=30", None, True),
        ("create", "POST", "/api/zoom/meetings", "", {"topic": "Weekly sync", "duration": 30, "timezone": "Europe/Paris", "agenda": "Roadmap"}, True),
        ("get", "GET", "/api/zoom/meetings/85746065432", "", None, True),
        ("update", "PATCH", "/api/zoom/meetings/85746065432", "", {"topic": "Weekly sync (moved)", "start_time": "2026-12-01T15:00:00Z"}, True),
        ("delete", "DELETE", "/api/zoom/meetings/85746065432", "", None, True),
    ],
    "zoom-users": [
        ("list", "GET", "/api/zoom/users", "status=active&page_size=100", None, True),
        ("get", "GET", "/api/zoom/users/me", "", None, True),
    ],
    "zoom-recordings": [
        ("list", "GET", "/api/zoom/recordings", "from=2026-09-01&to=2026-11-27", None, True),
        ("get", "GET", "/api/zoom/recordings/aDYlohsHRtCd4ii1uC2%2BhA%3D%3D", "", None, True),
        ("download", "GET", "/api/zoom/recordings/aDYlohsHRtCd4ii1uC2%2BhA%3D%3D/files/kSQSRAjRLvOIqEQUDRIi0A/download", "", None, True),
    ],
    "zoom-analytics": [
        ("meetings", "GET", "/api/zoom/analytics/meetings", "from=2026-11-01&to=2026-11-27", None, True),
    ],
    "zoom-webhooks": [
        ("meeting-started", "POST", "/api/zoom/webhooks", "", {"event": "meeting.started", "event_ts": 1795766400000, "payload": {"account_id": "AAAAAABBBB", "object": {"id": "85746065432", "uuid": "4444AAAiAAAAAiAiAiiAii==", "host_id": "x1yCzABCDEfg23HiJKl4mN", "topic": "My Meeting", "type": 2, "start_time": "2026-11-27T09:00:00Z", "timezone": "UTC", "duration": 60}}}, False),
    ],    # A browser navigation carries no JWT: the page and its assets are public; the page sends
    # the caller's JWT on every API call it makes. dev-token answers 404 outside the local stack.
    "zoom-dashboard": [
        ("page", "GET", "/api/zoom/dashboard", "", None, False),
        ("asset", "GET", "/api/zoom/dashboard/app.js", "", None, False),
        ("dev-token", "POST", "/api/zoom/dashboard/dev-token", "", {"tenant": "acme"}, False),
    ],
}


def event(method, path, query, body, jwt):
    context = {
        "accountId": "123456789012", "apiId": "a1b2c3d4e5",
        "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "domainPrefix": "a1b2c3d4e5",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
        "requestId": "Ab1Cd2Ef3Gh=", "routeKey": f"{method} {path}", "stage": "$default",
        "time": "27/Nov/2026:08:00:00 +0000", "timeEpoch": 1795766400000,
    }
    headers = {
        "accept": "application/json", "host": context["domainName"], "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-6b093a40-0123456789abcdef01234567", "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443", "x-forwarded-proto": "https",
    }
    if method == "GET" and path.startswith("/api/zoom/dashboard"):
        headers["accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
    if path == "/api/zoom/webhooks":
        # Signed for the timestamp below; a live check refuses it as stale (replay protection).
        headers["x-zm-request-timestamp"] = "1795766400"
        headers["x-zm-signature"] = "v0=" + "0" * 64
    if jwt:
        headers["authorization"] = "Bearer eyJhbGciOiJIUzI1NiJ9.redacted.redacted"
        context["authorizer"] = {"jwt": {"claims": {"sub": "acme", "iss": "https://issuer.example.com/", "aud": "zoom-connector", "exp": "1795770000"}, "scopes": None}}
    result = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": query,
        "headers": headers, "requestContext": context, "isBase64Encoded": False,
    }
    if query:
        result["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    if body is not None:
        headers["content-type"] = "application/json"
        result["body"] = json.dumps(body, separators=(",", ":"))
    return result


for function, routes in ROUTES.items():
    folder = os.path.join(ROOT, "events", function)
    os.makedirs(folder, exist_ok=True)
    for name, method, path, query, body, jwt in routes:
        with open(os.path.join(folder, f"{name}.json"), "w", encoding="utf-8") as handle:
            json.dump(event(method, path, query, body, jwt), handle, indent=2)
            handle.write("\n")
