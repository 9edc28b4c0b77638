"""AWS Signature Version 4, checked against the worked example of AWS's S3 documentation
("Example: GET Object": the canonical request, string to sign and signature it gives)."""

from __future__ import annotations

from akd.vendor_auth import sigv4_authorization, sts_caller_identity

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_the_documented_get_object_example() -> None:
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }
    auth = sigv4_authorization(
        "GET", "https://examplebucket.s3.amazonaws.com/test.txt", headers, b"",
        access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1", service="s3", amz_date="20130524T000000Z",
    )  # fmt: skip
    assert auth == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_a_caller_identity_request_is_signed_for_sts() -> None:
    url, headers, body = sts_caller_identity("", "AKID", "secret", "eu-west-1", token="tok")
    assert url == "https://sts.eu-west-1.amazonaws.com/" and body.startswith(b"Action=GetCallerIdentity")
    assert headers["x-amz-security-token"] == "tok"
    assert "/eu-west-1/sts/aws4_request" in headers["authorization"]
    assert "x-amz-security-token" in headers["authorization"].split("SignedHeaders=")[1]
