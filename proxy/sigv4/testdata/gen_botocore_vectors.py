#!/usr/bin/env python3
"""Generate botocore_vectors.json: SigV4 signatures produced by real botocore.

Run from this directory:

    python3 gen_botocore_vectors.py > botocore_vectors.json

The Go tests only read the JSON, so Python is needed only to regenerate it.

Two kinds of vectors are produced, all at a pinned timestamp:

* "awsrequest/...": hand-built botocore.awsrequest.AWSRequest objects signed
  with botocore.auth.SigV4Auth, exercising paths, queries, headers and bodies
  with special characters.
* "client/...": requests built by a real botocore codeartifact client (the
  code path the AWS CLI uses, with --endpoint-url), captured at the
  before-send event so nothing is sent on the network.

SigV4Auth.add_auth reads the clock through botocore.auth.get_current_datetime,
so that name is patched to return a fixed datetime. The canonical request and
string to sign botocore computed are recorded too, to make Go-side failures
easy to diagnose.
"""

import base64
import datetime
import json
import sys
from unittest import mock

import botocore
import botocore.auth
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDSTOCKPILEEXAMPLE"
SECRET_KEY = "sTockPiLe/K7MDENG+bPxRfiCYEXAMPLEKEY0000"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLESESSIONTOKEN/+="
REGION = "us-east-1"
SERVICE = "codeartifact"
ENDPOINT = "http://127.0.0.1:8080"
FIXED = datetime.datetime(2026, 11, 26, 10, 15, 30)


class Recorder:
    """Wraps SigV4Auth methods to remember their last results."""

    def __init__(self):
        self.canonical_request = None
        self.string_to_sign = None
        orig_cr = SigV4Auth.canonical_request
        orig_sts = SigV4Auth.string_to_sign
        rec = self

        def canonical_request(self, request):
            rec.canonical_request = orig_cr(self, request)
            return rec.canonical_request

        def string_to_sign(self, request, canonical_request):
            rec.string_to_sign = orig_sts(self, request, canonical_request)
            return rec.string_to_sign

        self.patches = [
            mock.patch.object(SigV4Auth, "canonical_request", canonical_request),
            mock.patch.object(SigV4Auth, "string_to_sign", string_to_sign),
            mock.patch.object(
                botocore.auth, "get_current_datetime", lambda *a, **k: FIXED
            ),
        ]

    def __enter__(self):
        for p in self.patches:
            p.start()
        return self

    def __exit__(self, *exc):
        for p in reversed(self.patches):
            p.stop()


def host_and_uri(url):
    parts = botocore.compat.urlsplit(url)
    uri = parts.path or "/"
    if parts.query:
        uri += "?" + parts.query
    return parts.netloc, uri


def body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        pos = body.tell()
        data = body.read()
        body.seek(pos)
        return data
    return bytes(body)


def vector(name, method, url, headers, body, rec, region=REGION, token=None):
    host, uri = host_and_uri(url)
    return {
        "name": name,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "session_token": token or "",
        "region": region,
        "service": SERVICE,
        "method": method,
        "host": host,
        "request_uri": uri,
        "headers": [[k, v if isinstance(v, str) else v.decode()] for k, v in headers.items()],
        "body_base64": base64.b64encode(body_bytes(body)).decode(),
        "canonical_request": rec.canonical_request,
        "string_to_sign": rec.string_to_sign,
    }


def sign_awsrequest(name, method, path_and_query, body=None, headers=None,
                    region=REGION, token=None, context=None):
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    req = AWSRequest(method=method, url=ENDPOINT + path_and_query,
                     data=body, headers=dict(headers or {}))
    if context:
        req.context.update(context)
    with Recorder() as rec:
        SigV4Auth(creds, SERVICE, region).add_auth(req)
    return vector(name, method, req.url, req.headers, req.body, rec,
                  region=region, token=token)


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def client_vectors():
    session = botocore.session.get_session()
    client = session.create_client(
        "codeartifact",
        region_name=REGION,
        endpoint_url=ENDPOINT,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )

    def capture(request, **kwargs):
        raise Captured(request)

    client.meta.events.register("before-send.codeartifact", capture)

    asset = "hello, stockpile\n".encode()
    import hashlib
    calls = [
        ("create_domain", dict(domain="acme")),
        ("describe_repository", dict(domain="acme", domainOwner="111122223333",
                                     repository="my.repo_1")),
        ("associate_external_connection", dict(
            domain="acme", domainOwner="111122223333", repository="my-repo",
            externalConnection="public:npmjs")),
        ("get_authorization_token", dict(domain="acme", durationSeconds=900)),
        ("list_packages", dict(domain="acme", repository="my-repo",
                               format="npm", namespace="@types",
                               packagePrefix="n\u00f6de ~x")),
        ("describe_package_version", dict(
            domain="acme", repository="my-repo", format="npm",
            namespace="types", package="node", packageVersion="1.0.0+build.5")),
        ("put_repository_permissions_policy", dict(
            domain="acme", repository="my-repo",
            policyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*",
                 "Action": "codeartifact:ReadFromRepository",
                 "Resource": "*", "Sid": "caf\u00e9 \u2713"}]}))),
        ("publish_package_version", dict(
            domain="acme", repository="my-repo", format="generic",
            namespace="ns", package="tool", packageVersion="1.2.3",
            assetContent=asset, assetName="tool v1.tar.gz",
            assetSHA256=hashlib.sha256(asset).hexdigest(), unfinished=True)),
    ]
    out = []
    for op, params in calls:
        with Recorder() as rec:
            try:
                getattr(client, op)(**params)
            except Captured as c:
                r = c.request
            else:
                raise RuntimeError(op + ": request was not captured")
        out.append(vector("client/" + op, r.method, r.url, r.headers, r.body, rec))
    return out


def main():
    json_headers = {"Content-Type": "application/json"}
    vectors = [
        sign_awsrequest(
            "awsrequest/create-domain-json-body", "POST",
            "/v1/domain?domain=acme",
            body=json.dumps({"encryptionKey": "arn:aws:kms:us-east-1:111122223333:key/abc",
                             "tags": [{"key": "team", "value": "infra"}]}).encode(),
            headers=json_headers),
        sign_awsrequest(
            "awsrequest/describe-repository-query", "GET",
            "/v1/repository?domain=acme&domain-owner=111122223333&repository=my.repo_1"),
        sign_awsrequest(
            "awsrequest/external-connection-encoded-colon", "POST",
            "/v1/repository/external-connection?domain=acme&domain-owner=111122223333"
            "&external-connection=public%3Anpmjs&repository=my-repo"),
        sign_awsrequest(
            "awsrequest/path-only", "GET", "/v1/domains"),
        sign_awsrequest(
            "awsrequest/path-special-characters", "GET",
            "/v1/pkg/%40scope%2Fname/caf%C3%A9/a%3Ab/sp%20ace/~tilde/x.y_z-/"),
        sign_awsrequest(
            "awsrequest/path-dot-segments-and-double-slashes", "GET",
            "/v1/./a//b/../c/"),
        sign_awsrequest(
            "awsrequest/root-path", "GET", "/"),
        sign_awsrequest(
            "awsrequest/unicode-body", "POST",
            "/v1/domain?domain=caf%C3%A9",
            body=json.dumps({"description": "h\u00e9llo \u2713 \U0001F4E6"},
                            ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"}),
        sign_awsrequest(
            "awsrequest/query-unsorted-repeated-empty", "GET",
            "/v1/packages?z=last&a=2&a=1&empty=&flag&sp=a%20b&tilde=~x&Upper=X"),
        sign_awsrequest(
            "awsrequest/header-whitespace", "POST", "/v1/tag",
            body=b"{}",
            headers={"Content-Type": "application/json",
                     "X-Stockpile-Note": "  several   spaces\tand tab  "}),
        sign_awsrequest(
            "awsrequest/date-header", "GET", "/v1/domain?domain=acme",
            headers={"Date": "placeholder, replaced by botocore"}),
        sign_awsrequest(
            "awsrequest/unsigned-payload", "POST",
            "/v1/package/version/publish?domain=acme",
            body=b"opaque asset bytes",
            context={"payload_signing_enabled": False}),
        sign_awsrequest(
            "awsrequest/session-token", "GET", "/v1/domain?domain=acme",
            token=SESSION_TOKEN),
        sign_awsrequest(
            "awsrequest/other-region", "GET", "/v1/domain?domain=acme",
            region="eu-west-1"),
    ]
    vectors += client_vectors()
    doc = {
        "generator": "gen_botocore_vectors.py with botocore " + botocore.__version__,
        "timestamp": FIXED.strftime("%Y%m%dT%H%M%SZ"),
        "vectors": vectors,
    }
    json.dump(doc, sys.stdout, indent=2, ensure_ascii=False, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
