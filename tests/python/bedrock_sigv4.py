"""Checks SigV4 signatures with botocore's own signer (SigV4Auth), independently of the
gateway's signer (the aws-sigv4 crate) and of the mock's verifier.

  bedrock_sigv4.py vector     prints the Authorization botocore makes for the fixed request
                              the Rust unit test `signature_matches_botocore` signs
  bedrock_sigv4.py [verify]   reads {"region","access_key_id","secret_access_key",
                              "session_token"?, "requests":[{"method","url","headers":[[k,v]],
                              "body_b64"}]} from $TOLLGATE_SIGV4_INPUT (else stdin); re-signs each request with botocore at
                              its own X-Amz-Date over the headers it signed; prints one line
                              per request and exits 1 on any mismatch
"""
import base64
import datetime
import json
import os
import sys
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def botocore_authorization(method, url, headers, body, region, creds, amz_date):
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(creds, "bedrock", region).add_auth(req)
    return req.headers["Authorization"]


def vector():
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example")
    body = b'{"messages":[{"role":"user","content":[{"text":"Hello"}]}]}'
    url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    headers = {"content-type": "application/json", "accept": "application/json"}
    print(botocore_authorization("POST", url, headers, body, "us-east-1", creds, "20240501T123456Z"))


def verify():
    raw = os.environ.get("TOLLGATE_SIGV4_INPUT")
    cfg = json.loads(raw) if raw else json.load(sys.stdin)
    creds = Credentials(cfg["access_key_id"], cfg["secret_access_key"], cfg.get("session_token"))
    bad = 0
    for r in cfg["requests"]:
        hdrs = {k.lower(): v for k, v in r["headers"]}
        auth = hdrs["authorization"]
        signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        # botocore adds host, x-amz-date and the token itself; give it the other signed ones.
        given = {k: hdrs[k] for k in signed if k not in ("host", "x-amz-date", "x-amz-security-token")}
        url = "http://" + hdrs["host"] + r["url"]
        expected = botocore_authorization(
            r["method"], url, given, base64.b64decode(r["body_b64"]), cfg["region"], creds, hdrs["x-amz-date"]
        )
        ok = expected == auth
        bad += not ok
        print(("ok " if ok else "MISMATCH ") + r["url"] + ("" if ok else f"\n  sent     {auth}\n  botocore {expected}"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    {"vector": vector, "verify": verify}[sys.argv[1] if len(sys.argv) > 1 else "verify"]()
