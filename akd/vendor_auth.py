"""Request signing that connection tests need without the vendor's SDK: AWS Signature
Version 4 (for STS ``GetCallerIdentity``). Pure functions; no I/O."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_authorization(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    """The ``Authorization`` header of a request signed with AWS Signature Version 4.

    ``headers`` are the ones to sign (``host`` and ``x-amz-date`` at least), ``amz_date``
    the request's ``YYYYMMDDTHHMMSSZ`` time. Query parameters are signed in sorted order.
    """
    parts = urlsplit(url)
    canonical_query = "&".join(sorted(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, _, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
    ))  # fmt: skip
    names = sorted(h.lower() for h in headers)
    lowered = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    canonical_headers = "".join(f"{n}:{lowered[n]}\n" for n in names)
    signed_headers = ";".join(names)
    payload_hash = lowered.get("x-amz-content-sha256") or _sha256(body)
    canonical = "\n".join([method, quote(parts.path or "/", safe="/-_.~"), canonical_query, canonical_headers,
                           signed_headers, payload_hash])  # fmt: skip
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, _sha256(canonical.encode())])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"


def sts_caller_identity(
    base_url: str, access_key: str, secret_key: str, region: str, token: str = "", now: datetime | None = None
) -> tuple[str, dict[str, str], bytes]:
    """URL, headers and body of a signed STS ``GetCallerIdentity`` (proves a key pair works)."""
    region = region or "us-east-1"
    url = (base_url or f"https://sts.{region}.amazonaws.com").rstrip("/") + "/"
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    amz_date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "host": urlsplit(url).netloc,
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "x-amz-date": amz_date,
    }
    if token:
        headers["x-amz-security-token"] = token
    auth = sigv4_authorization("POST", url, headers, body, access_key=access_key, secret_key=secret_key,
                               region=region, service="sts", amz_date=amz_date)  # fmt: skip
    return url, {**headers, "authorization": auth, "accept": "application/json"}, body


class KubeconfigError(ValueError):
    """A kubeconfig akd cannot test with (no current context, an exec plugin, ...)."""


def kubeconfig_target(text: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """From a kubeconfig (YAML or JSON): the current context's API server URL, the request
    headers of its user (a bearer token) and its TLS material as PEM text (keys ``ca``,
    ``cert``, ``key``; base64 ``*-data`` fields decoded)."""
    import base64

    import yaml

    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"the kubeconfig is not YAML: {exc}") from None
    if not isinstance(config, dict):
        raise KubeconfigError("the kubeconfig is not a mapping")

    def named(kind: str, name: str) -> dict[str, object]:
        for item in config.get(f"{kind}s") or []:
            if isinstance(item, dict) and item.get("name") == name:
                body = item.get(kind)
                return body if isinstance(body, dict) else {}
        raise KubeconfigError(f"the kubeconfig has no {kind} named {name!r}")

    context = named("context", str(config.get("current-context") or ""))
    cluster, user = named("cluster", str(context.get("cluster"))), named("user", str(context.get("user")))
    if user.get("exec") or user.get("auth-provider"):
        raise KubeconfigError("the kubeconfig's user runs a credential plugin (exec/auth-provider); akd cannot")
    headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
    tls = {}
    for key, field in (("ca", "certificate-authority-data"), ("cert", "client-certificate-data"),
                       ("key", "client-key-data")):  # fmt: skip
        source = cluster if key == "ca" else user
        if source.get(field):
            tls[key] = base64.b64decode(str(source[field])).decode()
    return str(cluster.get("server") or ""), headers, tls
