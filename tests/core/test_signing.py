"""Tests for core.amazonpay.signing: SDK vectors, signatures, dates, headers and keys.

The vectors come from ``amazonpay-api.md`` section 1: (a) the Java SDK's ``testdata.js``
(``x-amz-pay-region:EU``), (b) the .NET SDK's ``CreateStringToSignTest.cs``
(``x-amz-pay-region:eu``), (c) the button signature payload and (e) a JP Create
Charge request.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from core.amazonpay.signing import (
    ALGORITHM_V1,
    ALGORITHM_V2,
    DEFAULT_ALGORITHM,
    EMPTY_BODY_SHA256,
    AuthorizationHeader,
    MissingHeaderError,
    build_authorization_header,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    format_amz_date,
    generate_key_pair,
    load_private_key,
    load_public_key,
    parse_amz_date,
    parse_authorization_header,
    salt_length,
    sign,
    sign_request,
    string_to_sign,
    verify,
    verify_request,
)

ALGORITHMS = (ALGORITHM_V1, ALGORITHM_V2)

UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The 24 characters of the "nonunreserved" vectors (the last one is a space).
NON_UNRESERVED = '@#$%^&+=/,?><`";:\\|][{} '
NON_UNRESERVED_ENCODED = "%40%23%24%25%5E%26%2B%3D%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D%20"


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _vector_headers(region: str) -> dict[str, str]:
    """The five headers signed by the Java and .NET SDK vectors."""
    return {
        "accept": "application/json",
        "content-type": "application/json",
        "x-amz-pay-date": "20180524T223710Z",
        "x-amz-pay-host": "pay-api.amazon.eu",
        "x-amz-pay-region": region,
    }


@dataclass(frozen=True)
class Vector:
    """One SDK string-to-sign test case."""

    name: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    expected_sha256: str


# (a) Java SDK testdata.js, x-amz-pay-region:EU, empty payload.
JAVA_VECTORS = (
    Vector(
        "get-vanilla",
        "GET",
        "/",
        (),
        "bb49552975c396f1e49d5510e1555b8b0627dc491bc61aaefdb561f202ad8020",
    ),
    Vector(
        "get-empty",
        "GET",
        "",
        (),
        "bb49552975c396f1e49d5510e1555b8b0627dc491bc61aaefdb561f202ad8020",
    ),
    # java.net.URI("//foo//") parses "foo" as the host, so getPath() is "//" -> "/".
    Vector(
        "get-slashes",
        "GET",
        "//",
        (),
        "bb49552975c396f1e49d5510e1555b8b0627dc491bc61aaefdb561f202ad8020",
    ),
    Vector(
        "get-unreserved",
        "GET",
        "/" + UNRESERVED,
        (),
        "a0e5dd63e175587f29d51c6b08be5c746a568209ac66ab1f967e0ba515aa80bc",
    ),
    Vector(
        "get-vanilla-query",
        "GET",
        "/",
        (),
        "bb49552975c396f1e49d5510e1555b8b0627dc491bc61aaefdb561f202ad8020",
    ),
    Vector(
        "get-utf8",
        "GET",
        "/\u1234",
        (),
        "77f6544c8fb336d430895659da1e30415a1558b4b013f4d7926bb3a6275f701d",
    ),
    Vector(
        "get-vanilla-utf8-query",
        "GET",
        "/",
        (("\u1234", "bar"),),
        "ef1007307504f2ca9f0b6310b04056f5d3d6d18e7bf3d90663133f19ec132ecc",
    ),
    Vector(
        "post-vanilla",
        "POST",
        "/",
        (),
        "54156f5badd6da7fa630b2c334c808ad376530001d334ae9960457215aa626d3",
    ),
    Vector(
        "post-vanilla-query",
        "POST",
        "/",
        (("foo", "bar"),),
        "cc82525870b2d03666c287fd8b2c0d2fc6fa1693d9f357d27f7cac8cbcc12832",
    ),
    Vector(
        "get-vanilla-empty-query-key",
        "GET",
        "/",
        (("foo", "bar"),),
        "6837f80baf1801c75db8119cffbadc26a89d20adb9cf3f3de4ce0fac31b4ae52",
    ),
    Vector(
        "get-vanilla-query-order-value",
        "GET",
        "/",
        (("foo", "b"), ("foo", "a")),
        "a33266ec31c7f0ca8a0738eb49fb8c81319f14374a0b86d52e6911a9748a6d42",
    ),
    # Given in reverse order on purpose: the canonical form sorts them.
    Vector(
        "get-vanilla-query-order-key",
        "GET",
        "/",
        (("b", "foo"), ("a", "foo")),
        "6615ba7ca3734e97b35013f77c74d111ce2fa63ab52be161ad41bcd4b010120f",
    ),
    Vector(
        "get-vanilla-query-order-sort-by-key",
        "GET",
        "/",
        (("A.1", "foo"), ("A.2", "foo"), ("A.10", "foo")),
        "29d908d70c4bb50d62272976787245b52ed52e569fdae56ef3aa6d8979978ee7",
    ),
    Vector(
        "get-vanilla-query-order-key-case",
        "GET",
        "/",
        (("foo", "Zoo"), ("foo", "aha")),
        "f379cbd2e2fc9d5d50667a07ec22996335f731b474bb8bd366647d05d958c9d5",
    ),
    Vector(
        "get-vanilla-query-unreserved",
        "GET",
        "/",
        ((UNRESERVED, UNRESERVED),),
        "892abddd6e79db3feb5695b318af639c3e863494f6b4df32ec24fff4c1562a73",
    ),
    Vector(
        "post-vanilla-query-nonunreserved",
        "POST",
        "/",
        ((NON_UNRESERVED, NON_UNRESERVED),),
        "66bbbf2b5d6d297a9393abbc0b4f9d62e30666bb0ec0dea8f1d4e45551440e4c",
    ),
    Vector(
        "post-vanilla-query-space",
        "POST",
        "/",
        (("f oo", "b ar"),),
        "99be3aeb19b5a1aebafc807d59f3740d3e604ae31cf928592fa70739ea64bb32",
    ),
)

# (b) .NET SDK CreateStringToSignTest.cs, x-amz-pay-region:eu, empty payload.
DOTNET_VECTORS = (
    Vector(
        "SimpleGet",
        "GET",
        "/",
        (),
        "13fdf6db844bdfb9e9c0e27a4251ca04e60c29ca2132249c5dd1cb09c26e22f5",
    ),
    # new Uri("http://pay-api.amazon.eu///foo//").AbsolutePath is "///foo//" -> "/foo/".
    Vector(
        "GetWithTooManySlashesInUri",
        "GET",
        "///foo//",
        (),
        "d8e13e1857bc9b5056cc8ccb2699812faa2c68960e00483b1390fdaf4a991cc4",
    ),
    Vector(
        "GetWithUnreservedCharacters",
        "GET",
        "/" + UNRESERVED,
        (),
        "585e034d38ed3d64c0cd77a9f357a4b4a0fc093eebe06f4b06f66845e3543038",
    ),
    Vector(
        "GetWithHighAsciiCharacterInParameterString",
        "GET",
        "/",
        (("\u1234", "bar"),),
        "f0597d2fdcf97baf28002461796e916a74e35073b44042296d2ed45bacf6ecf0",
    ),
    Vector(
        "SimplePost",
        "POST",
        "/",
        (),
        "322307b5dae22c3d59350c3de9202a488f337f674c8f430b186282008264bd2b",
    ),
    Vector(
        "PostWithQueryParameter",
        "POST",
        "/",
        (("foo", "bar"),),
        "9d61b5abddbfdcaf7810a8e83dfffe0a5d5f272d2676c0550d974d5383e94cd5",
    ),
    Vector(
        "GetWithMultipleQueryValuesInSingleParameter",
        "GET",
        "/",
        (("foo", "b"), ("foo", "a")),
        "937de37fb8aed8af4214c373580c72f40c525202d1975df6836ba6ed0062b902",
    ),
    Vector(
        "GetWithMultipleQueryParameters",
        "GET",
        "/",
        (("a", "foo"), ("b", "foo")),
        "457de2535eedbd6ef25f5c8ec4653ee885b99838d722189928f4fdf8d3c3ef4f",
    ),
    Vector(
        "GetWithMultipleQueryParametersSorted",
        "GET",
        "/",
        (("A.1", "foo"), ("A.10", "foo"), ("A.2", "foo")),
        "43ae5290e6742d30e3822b62b6d759afedafbe01534f778175c336b455d632e7",
    ),
    Vector(
        "GetWithMultipleQueryValuesInSingleParameterSorted",
        "GET",
        "/",
        (("foo", "Zoo"), ("foo", "aha")),
        "7a4d89bd832cb93f2102f66bc8d3a0bc5f224c0bb758eab261dcd34a8ed2f117",
    ),
    Vector(
        "GetWithReservedCharactersInQueryParameter",
        "GET",
        "/",
        ((UNRESERVED, UNRESERVED),),
        "aa69ca06d93d9220f9aa16314d8556e18e1b0ae39802cd169bd3af6c08cd7164",
    ),
    Vector(
        "PostWithSpecialCharactersInQueryParameter",
        "POST",
        "/",
        ((NON_UNRESERVED, NON_UNRESERVED),),
        "50709f5220d06911feee2d6aa8bf8453c8517f44527c0912e62b905d26c7e08f",
    ),
    Vector(
        "PostWithSpacesInQueryParameter",
        "POST",
        "/",
        (("f oo", "b ar"),),
        "79481e4e38a053f7be8bda701c0d302d39df18bf468578b133c3be8e93fea86a",
    ),
)

SDK_VECTORS = [
    pytest.param(vector, "EU", algorithm, id=f"java-{vector.name}-{algorithm}")
    for vector in JAVA_VECTORS
    for algorithm in ALGORITHMS
] + [
    pytest.param(vector, "eu", algorithm, id=f"dotnet-{vector.name}-{algorithm}")
    for vector in DOTNET_VECTORS
    for algorithm in ALGORITHMS
]

# (e) JP Create Charge (derived in the shared notes, not from an SDK).
JP_BODY = (
    b'{"chargePermissionId":"S03-0000000-0000000","chargeAmount":{"amount":"1000",'
    b'"currencyCode":"JPY"},"captureNow":false,"canHandlePendingAuthorization":false}'
)
JP_HEADERS = {
    "accept": "application/json",
    "content-type": "application/json",
    "x-amz-pay-date": "20240101T000000Z",
    "x-amz-pay-host": "pay-api.amazon.jp",
    "x-amz-pay-idempotency-key": "abc123",
    "x-amz-pay-region": "jp",
}
JP_PAYLOAD_SHA256 = "6e4b41cb6bb48a8cad0524ea16265ccd3b097e85dd1450b44fd0632f746d6141"
JP_CANONICAL_SHA256 = "bce7403b1cc481e409e94170bc05061269915894100b68142d011fef0398ebe9"

# (c) Button signature payload (PHP ClientTest, Java GenerateButtonSignatureTest).
BUTTON_PAYLOAD = (
    '{"storeId":"amzn1.application-oa2-client.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",'
    '"webCheckoutDetails":{'
    '"checkoutReviewReturnUrl":"https://localhost/test/CheckoutReview.php",'
    '"checkoutResultReturnUrl":"https://localhost/test/CheckoutResult.php"}}'
)
BUTTON_PAYLOAD_SHA256 = "8dec52d799607be40f82d5c8e7ecb6c171e6591c41b1111a576b16076c89381c"


@pytest.fixture(scope="module")
def key_pair() -> tuple[RSAPrivateKey, RSAPublicKey]:
    """A freshly generated key pair, loaded through the module's own loaders."""
    private_pem, public_pem = generate_key_pair()
    return load_private_key(private_pem), load_public_key(public_pem)


@pytest.fixture(scope="module")
def other_public_key() -> RSAPublicKey:
    """The public half of a different key pair."""
    _, public_pem = generate_key_pair()
    return load_public_key(public_pem)


def _signed_jp_request(private_key: RSAPrivateKey, algorithm: str = ALGORITHM_V2) -> dict[str, object]:
    """Sign the JP vector request; return the keyword arguments for verify_request."""
    authorization = sign_request(
        method="POST",
        path="/sandbox/v2/charges",
        query=[],
        headers=JP_HEADERS,
        body=JP_BODY,
        private_key=private_key,
        public_key_id="SANDBOX-AHXXXXXXXXXXXXXXXXXXXXXX",
        algorithm=algorithm,
    )
    return {
        "method": "POST",
        "path": "/sandbox/v2/charges",
        "query": [],
        "headers": dict(JP_HEADERS),
        "body": JP_BODY,
        "authorization": authorization,
    }


def _verify_jp(
    public_key: RSAPublicKey,
    request: dict[str, object],
    **changes: object,
) -> bool:
    """Run verify_request on a (possibly altered) copy of a signed JP request."""
    merged = {**request, **changes}
    method = merged["method"]
    path = merged["path"]
    query = merged["query"]
    headers = merged["headers"]
    body = merged["body"]
    authorization = merged["authorization"]
    assert isinstance(method, str)
    assert isinstance(path, str)
    assert isinstance(query, list)
    assert isinstance(headers, dict)
    assert isinstance(body, bytes)
    assert isinstance(authorization, str)
    return verify_request(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        authorization=authorization,
        public_key=public_key,
    )


# --------------------------------------------------------------------------------------
# SDK vectors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("vector", "region", "algorithm"), SDK_VECTORS)
def test_sdk_vector(vector: Vector, region: str, algorithm: str) -> None:
    headers = _vector_headers(region)
    text = canonical_request(vector.method, vector.path, vector.query, headers, list(headers), b"")
    assert _sha256_hex(text) == vector.expected_sha256
    assert string_to_sign(algorithm, text) == f"{algorithm}\n{vector.expected_sha256}"


def test_java_vanilla_full_canonical_request() -> None:
    headers = _vector_headers("EU")
    expected = (
        "GET\n/\n\naccept:application/json\ncontent-type:application/json\n"
        "x-amz-pay-date:20180524T223710Z\nx-amz-pay-host:pay-api.amazon.eu\n"
        "x-amz-pay-region:EU\n\n"
        "accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-region\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert canonical_request("GET", "/", [], headers, list(headers), b"") == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("//", "/"),
        ("///foo//", "/foo/"),
        ("/" + UNRESERVED, "/" + UNRESERVED),
        ("/\u1234", "/%E1%88%B4"),
        ("foo", "/foo"),
        ("/a b", "/a%20b"),
        ("/50%", "/50%25"),
        (
            "/sandbox/v2/charges/S01-5105180-3221187-C056351/capture/",
            "/sandbox/v2/charges/S01-5105180-3221187-C056351/capture/",
        ),
    ],
)
def test_canonical_uri(path: str, expected: str) -> None:
    assert canonical_uri(path) == expected


def test_canonical_uri_keeps_trailing_slash_distinct() -> None:
    # The .NET SDK signs '/v2/charges/ID/'; the server must canonicalise the same path
    # alike, and it must not be confused with the path without the slash.
    assert canonical_uri("/v2/charges/ID/") == "/v2/charges/ID/"
    assert canonical_uri("/v2/charges/ID") == "/v2/charges/ID"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ((), ""),
        ((("foo", "b"), ("foo", "a")), "foo=a&foo=b"),
        ((("A.1", "foo"), ("A.2", "foo"), ("A.10", "foo")), "A.1=foo&A.10=foo&A.2=foo"),
        ((("foo", "Zoo"), ("foo", "aha")), "foo=Zoo&foo=aha"),
        ((("\u1234", "bar"),), "%E1%88%B4=bar"),
        ((("f oo", "b ar"),), "f%20oo=b%20ar"),
        (
            ((NON_UNRESERVED, NON_UNRESERVED),),
            f"{NON_UNRESERVED_ENCODED}={NON_UNRESERVED_ENCODED}",
        ),
        ((("empty", ""),), "empty="),
        ((("a", "x!'()*"),), "a=x%21%27%28%29%2A"),
    ],
)
def test_canonical_query(params: tuple[tuple[str, str], ...], expected: str) -> None:
    assert canonical_query(params) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        UNRESERVED,
        NON_UNRESERVED,
        "日本語 テスト",
        "\u1234/\x00\x7f",
        "~!*'()",
    ],
)
def test_canonical_query_matches_rfc3986_quote(text: str) -> None:
    # urllib's quote with no safe characters is RFC 3986 encoding (upper-case hex).
    encoded = urllib.parse.quote(text, safe="")
    assert canonical_query([(text, text)]) == f"{encoded}={encoded}"


# --------------------------------------------------------------------------------------
# JP vector and button signature
# --------------------------------------------------------------------------------------


def test_jp_vector() -> None:
    assert hashlib.sha256(JP_BODY).hexdigest() == JP_PAYLOAD_SHA256
    text = canonical_request("POST", "/sandbox/v2/charges", [], JP_HEADERS, list(JP_HEADERS), JP_BODY)
    assert text == (
        "POST\n/sandbox/v2/charges\n\naccept:application/json\n"
        "content-type:application/json\nx-amz-pay-date:20240101T000000Z\n"
        "x-amz-pay-host:pay-api.amazon.jp\nx-amz-pay-idempotency-key:abc123\n"
        "x-amz-pay-region:jp\n\naccept;content-type;x-amz-pay-date;x-amz-pay-host;"
        f"x-amz-pay-idempotency-key;x-amz-pay-region\n{JP_PAYLOAD_SHA256}"
    )
    assert _sha256_hex(text) == JP_CANONICAL_SHA256


def test_jp_vector_header_order_and_case_do_not_matter() -> None:
    shuffled = {
        "X-Amz-Pay-Region": "jp",
        "X-Amz-Pay-Idempotency-Key": "abc123",
        "Content-Type": "application/json",
        "X-Amz-Pay-Host": "pay-api.amazon.jp",
        "Accept": " application/json ",
        "X-Amz-Pay-Date": "20240101T000000Z",
    }
    text = canonical_request("post", "/sandbox/v2/charges", [], shuffled, list(shuffled), JP_BODY)
    assert _sha256_hex(text) == JP_CANONICAL_SHA256


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_button_signature_string_to_sign(algorithm: str) -> None:
    assert string_to_sign(algorithm, BUTTON_PAYLOAD) == f"{algorithm}\n{BUTTON_PAYLOAD_SHA256}"


# --------------------------------------------------------------------------------------
# Constants and canonical pieces
# --------------------------------------------------------------------------------------


def test_constants() -> None:
    assert ALGORITHM_V1 == "AMZN-PAY-RSASSA-PSS"
    assert ALGORITHM_V2 == "AMZN-PAY-RSASSA-PSS-V2"
    assert DEFAULT_ALGORITHM == ALGORITHM_V2
    assert hashlib.sha256(b"").hexdigest() == EMPTY_BODY_SHA256


def test_salt_length() -> None:
    assert salt_length(ALGORITHM_V1) == 20
    assert salt_length(ALGORITHM_V2) == 32
    for bad in ("", "amzn-pay-rsassa-pss", "AMZN-PAY-RSASSA-PSS-V3", "RSASSA-PSS"):
        with pytest.raises(ValueError, match="unknown signing algorithm"):
            salt_length(bad)


def test_string_to_sign_rejects_unknown_algorithm() -> None:
    with pytest.raises(ValueError):
        string_to_sign("AMZN-PAY-RSASSA-PSS-V3", "x")


def test_canonical_headers_normalisation() -> None:
    headers = {
        "Accept": "  application/json\t",
        "X-Amz-Pay-Date": "20240101T000000Z",
        "X-Custom": "a  \t b\r\n  c",
        "User-Agent": "not signed",
    }
    block = canonical_headers(headers, ["x-custom", "ACCEPT", "x-amz-pay-date"])
    assert block == ("accept:application/json\nx-amz-pay-date:20240101T000000Z\nx-custom:a b c\n")
    assert canonical_headers(headers, []) == ""


def test_canonical_headers_missing_header() -> None:
    with pytest.raises(MissingHeaderError) as info:
        canonical_headers({"accept": "application/json"}, ["accept", "x-amz-pay-date"])
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, KeyError)
    assert info.value.header == "x-amz-pay-date"
    assert "x-amz-pay-date" in str(info.value)


def test_canonical_headers_ambiguous_and_invalid() -> None:
    duplicated = {
        "Accept": "application/json",
        "accept": "text/plain",
        "X-A": "1",
        "x-a": "2",
    }
    with pytest.raises(ValueError, match="more than once"):
        canonical_headers(duplicated, ["accept"])
    # A name that only lower-cases to a signed one (KELVIN SIGN -> 'k') is not it.
    with pytest.raises(MissingHeaderError):
        canonical_headers({"\u212a": "x"}, ["k"])
    # A duplicate that is not signed does not matter.
    assert canonical_headers({"accept": "a", "X-A": "1", "x-a": "2"}, ["accept"]) == "accept:a\n"
    with pytest.raises(ValueError, match="listed more than once"):
        canonical_headers({"accept": "a"}, ["accept", "Accept"])
    for bad_name in ("", "bad name", "a:b", "a;b", "a\nb", "\u212a"):
        with pytest.raises(ValueError, match="invalid header name"):
            canonical_headers({bad_name: "x"}, [bad_name])


def test_canonical_request_method() -> None:
    headers = _vector_headers("EU")
    lower = canonical_request("get", "/", [], headers, list(headers), b"")
    upper = canonical_request("GET", "/", [], headers, list(headers), b"")
    assert lower == upper
    for bad in ("", "G ET", "GET\n"):
        with pytest.raises(ValueError, match="invalid HTTP method"):
            canonical_request(bad, "/", [], headers, list(headers), b"")


def test_canonical_request_body_hash() -> None:
    headers = {"x-amz-pay-date": "20240101T000000Z"}
    text = canonical_request("POST", "/", [], headers, list(headers), "日本".encode())
    assert text.endswith("\n" + hashlib.sha256("日本".encode()).hexdigest())
    empty = canonical_request("GET", "/", [], headers, list(headers), b"")
    assert empty.endswith("\n" + EMPTY_BODY_SHA256)


# --------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------


def test_format_amz_date() -> None:
    assert format_amz_date(datetime(2019, 9, 23, 23, 19, 8, tzinfo=UTC)) == "20190923T231908Z"
    jst = timezone(timedelta(hours=9))
    assert format_amz_date(datetime(2024, 1, 1, 8, 30, 0, 999999, tzinfo=jst)) == "20231231T233000Z"
    assert format_amz_date(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "09990102T030405Z"


def test_format_amz_date_rejects_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_amz_date(datetime(2019, 9, 23, 23, 19, 8, tzinfo=UTC).replace(tzinfo=None))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20190923T231908Z", datetime(2019, 9, 23, 23, 19, 8, tzinfo=UTC)),
        ("20180524T223710Z", datetime(2018, 5, 24, 22, 37, 10, tzinfo=UTC)),
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00.123Z", datetime(2024, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)),
        (
            "2024-02-29T12:34:56.1234567Z",
            datetime(2024, 2, 29, 12, 34, 56, 123456, tzinfo=UTC),
        ),
        (" 20240101T000000Z ", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_amz_date(value: str, expected: datetime) -> None:
    parsed = parse_amz_date(value)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "20190923T231908",
        "20190923t231908z",
        "20190923 231908Z",
        "2019-09-23T23:19:08",
        "2019-09-23T23:19:08+00:00",
        "2019-09-23T23:19:08z",
        "2019-09-23 23:19:08Z",
        "2019-09-23T23:19:08.Z",
        "20190923T231908.123Z",
        "20191323T000000Z",
        "20190230T000000Z",
        "20190923T246000Z",
        "2023-02-29T00:00:00Z",
        "\uff12\uff10\uff11\uff19\uff10\uff19\uff12\uff13T231908Z",  # full-width digits
        "1569280748",
    ],
)
def test_parse_amz_date_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="x-amz-pay-date"):
        parse_amz_date(value)


def test_amz_date_round_trip() -> None:
    moment = datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_amz_date(format_amz_date(moment)) == moment


# --------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_verify_round_trip(key_pair: tuple[RSAPrivateKey, RSAPublicKey], algorithm: str) -> None:
    private_key, public_key = key_pair
    text = string_to_sign(algorithm, "canonical request")
    first = sign(private_key, algorithm, text)
    second = sign(private_key, algorithm, text)
    assert first != second  # PSS is randomised
    assert len(base64.b64decode(first, validate=True)) == 256  # RSA 2048
    assert verify(public_key, algorithm, text, first)
    assert verify(public_key, algorithm, text, second)
    assert not verify(public_key, algorithm, text + "x", first)


@pytest.mark.parametrize(("algorithm", "salt"), [(ALGORITHM_V1, 20), (ALGORITHM_V2, 32)])
def test_signatures_match_plain_pss(key_pair: tuple[RSAPrivateKey, RSAPublicKey], algorithm: str, salt: int) -> None:
    # Interoperability with any RSASSA-PSS SHA-256 / MGF1 SHA-256 implementation.
    private_key, public_key = key_pair
    text = "AMZN-PAY\nabc"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
    ours = base64.b64decode(sign(private_key, algorithm, text))
    public_key.verify(ours, text.encode(), pss, hashes.SHA256())  # raises if invalid
    theirs = private_key.sign(text.encode(), pss, hashes.SHA256())
    assert verify(public_key, algorithm, text, base64.b64encode(theirs).decode())


@pytest.mark.parametrize(
    ("signed_with", "verified_as"),
    [(ALGORITHM_V1, ALGORITHM_V2), (ALGORITHM_V2, ALGORITHM_V1)],
)
def test_wrong_salt_length_fails(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey], signed_with: str, verified_as: str
) -> None:
    private_key, public_key = key_pair
    text = "same text for both"
    signature = sign(private_key, signed_with, text)
    assert verify(public_key, signed_with, text, signature)
    assert not verify(public_key, verified_as, text, signature)


def test_verify_wrong_key(key_pair: tuple[RSAPrivateKey, RSAPublicKey], other_public_key: RSAPublicKey) -> None:
    private_key, _ = key_pair
    signature = sign(private_key, ALGORITHM_V2, "text")
    assert not verify(other_public_key, ALGORITHM_V2, "text", signature)


@pytest.mark.parametrize(
    "bad_signature",
    ["", "not base64!", "AAAA", "QUJD\n", "QUJD=", "\uff31", "QUJD" * 100],
)
def test_verify_rejects_bad_signatures(key_pair: tuple[RSAPrivateKey, RSAPublicKey], bad_signature: str) -> None:
    _, public_key = key_pair
    assert not verify(public_key, ALGORITHM_V2, "text", bad_signature)


def test_verify_rejects_unknown_algorithm(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, public_key = key_pair
    signature = sign(private_key, ALGORITHM_V2, "text")
    with pytest.raises(ValueError, match="unknown signing algorithm"):
        verify(public_key, "AMZN-PAY-RSASSA-PSS-V3", "text", signature)


# --------------------------------------------------------------------------------------
# Whole requests
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_request_round_trip(key_pair: tuple[RSAPrivateKey, RSAPublicKey], algorithm: str) -> None:
    private_key, public_key = key_pair
    request = _signed_jp_request(private_key, algorithm)
    authorization = request["authorization"]
    assert isinstance(authorization, str)
    parsed = parse_authorization_header(authorization)
    assert parsed.algorithm == algorithm
    assert parsed.public_key_id == "SANDBOX-AHXXXXXXXXXXXXXXXXXXXXXX"
    assert parsed.signed_headers == tuple(sorted(JP_HEADERS))
    assert authorization.startswith(
        f"{algorithm} PublicKeyId=SANDBOX-AHXXXXXXXXXXXXXXXXXXXXXX, "
        "SignedHeaders=accept;content-type;x-amz-pay-date;x-amz-pay-host;"
        "x-amz-pay-idempotency-key;x-amz-pay-region, Signature="
    )
    # The signature is over the JP vector's string to sign.
    expected_text = f"{algorithm}\n{JP_CANONICAL_SHA256}"
    assert verify(public_key, algorithm, expected_text, parsed.signature)
    assert _verify_jp(public_key, request)


def test_sign_request_default_algorithm(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, _ = key_pair
    authorization = sign_request(
        method="GET",
        path="/v2/charges/S01-5105180-3221187-C056351",
        query=[],
        headers={"x-amz-pay-date": "20240101T000000Z"},
        body=b"",
        private_key=private_key,
        public_key_id="LIVE-AH1",
    )
    assert parse_authorization_header(authorization).algorithm == ALGORITHM_V2


def test_verify_request_server_view(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    # The client signs mixed-case names; the server sees lower-case names, extra
    # unsigned headers and extra whitespace, and still verifies.
    private_key, public_key = key_pair
    client_headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-Amz-Pay-Date": "20240101T000000Z",
        "X-Amz-Pay-Host": "pay-api.amazon.jp",
        "X-Amz-Pay-Region": "jp",
    }
    # With the trailing slash the .NET SDK sends.
    path = "/sandbox/v2/charges/S01-5105180-3221187-C056351/capture/"
    query = [("b", "2"), ("a", "1 2")]
    authorization = sign_request(
        method="POST",
        path=path,
        query=query,
        headers=client_headers,
        body=b"{}",
        private_key=private_key,
        public_key_id="SANDBOX-AH1",
        algorithm=ALGORITHM_V1,
    )
    server_headers = {name.lower(): value for name, value in client_headers.items()}
    server_headers["accept"] = " application/json  "
    server_headers["user-agent"] = "kanjo/0.1"
    server_headers["authorization"] = authorization
    assert verify_request(
        method="POST",
        path=path,
        query=list(reversed(query)),
        headers=server_headers,
        body=b"{}",
        authorization=authorization,
        public_key=public_key,
    )
    # The same path without the trailing slash is a different request.
    assert not verify_request(
        method="POST",
        path=path.rstrip("/"),
        query=query,
        headers=server_headers,
        body=b"{}",
        authorization=authorization,
        public_key=public_key,
    )


def test_verify_request_wrong_key(key_pair: tuple[RSAPrivateKey, RSAPublicKey], other_public_key: RSAPublicKey) -> None:
    request = _signed_jp_request(key_pair[0])
    assert not _verify_jp(other_public_key, request)


def test_verify_request_tampered_body(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, public_key = key_pair
    request = _signed_jp_request(private_key)
    assert not _verify_jp(public_key, request, body=JP_BODY.replace(b"1000", b"9000"))
    assert not _verify_jp(public_key, request, body=JP_BODY + b" ")


def test_verify_request_tampered_header(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, public_key = key_pair
    request = _signed_jp_request(private_key)
    for name, value in [
        ("x-amz-pay-idempotency-key", "abc124"),
        ("x-amz-pay-date", "20240101T000001Z"),
        ("x-amz-pay-region", "JP"),
    ]:
        assert not _verify_jp(public_key, request, headers={**JP_HEADERS, name: value})


def test_verify_request_tampered_request_line(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, public_key = key_pair
    request = _signed_jp_request(private_key)
    assert not _verify_jp(public_key, request, method="PUT")
    assert not _verify_jp(public_key, request, path="/live/v2/charges")
    assert not _verify_jp(public_key, request, query=[("a", "b")])


def test_verify_request_tampered_signature(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, public_key = key_pair
    request = _signed_jp_request(private_key)
    authorization = request["authorization"]
    assert isinstance(authorization, str)
    parsed = parse_authorization_header(authorization)
    raw = bytearray(base64.b64decode(parsed.signature))
    raw[len(raw) // 2] ^= 0x01
    flipped = base64.b64encode(bytes(raw)).decode()
    for signature in (flipped, "AAAA", "%%%%"):
        tampered = build_authorization_header(parsed.algorithm, parsed.public_key_id, parsed.signed_headers, signature)
        assert not _verify_jp(public_key, request, authorization=tampered)


def test_verify_request_algorithm_swapped(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, public_key = key_pair
    request = _signed_jp_request(private_key, ALGORITHM_V1)
    authorization = request["authorization"]
    assert isinstance(authorization, str)
    swapped = ALGORITHM_V2 + authorization.removeprefix(ALGORITHM_V1)
    assert not _verify_jp(public_key, request, authorization=swapped)


def test_verify_request_uses_listed_headers_only(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    # A request signed the way Amazon's Python sample does (accept and date only)
    # verifies, whatever other headers arrive with it.
    private_key, public_key = key_pair
    signed = {"accept": "application/json", "x-amz-pay-date": "20240101T000000Z"}
    authorization = sign_request(
        method="GET",
        path="/v2/refunds/R1",
        query=[],
        headers=signed,
        body=b"",
        private_key=private_key,
        public_key_id="AH1",
    )
    received = {**signed, "x-amz-pay-region": "jp", "user-agent": "python"}
    assert verify_request(
        method="GET",
        path="/v2/refunds/R1",
        query=[],
        headers=received,
        body=b"",
        authorization=authorization,
        public_key=public_key,
    )


def test_verify_request_missing_signed_header(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, public_key = key_pair
    request = _signed_jp_request(private_key)
    headers = {k: v for k, v in JP_HEADERS.items() if k != "x-amz-pay-idempotency-key"}
    with pytest.raises(MissingHeaderError):
        _verify_jp(public_key, request, headers=headers)


def test_verify_request_malformed_authorization(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, public_key = key_pair
    request = _signed_jp_request(private_key)
    with pytest.raises(ValueError, match="Authorization"):
        _verify_jp(public_key, request, authorization="Bearer abc")


def test_sign_request_rejects_bad_header_sets(
    key_pair: tuple[RSAPrivateKey, RSAPublicKey],
) -> None:
    private_key, _ = key_pair
    bad_sets: list[tuple[dict[str, str], str]] = [
        ({}, "at least one header"),
        ({"accept": "a", "Authorization": "x"}, "Authorization"),
        ({"accept": "a", "Accept": "b"}, "more than once"),
        ({"bad name": "a"}, "invalid header name"),
    ]
    for headers, message in bad_sets:
        with pytest.raises(ValueError, match=message):
            sign_request(
                method="GET",
                path="/",
                query=[],
                headers=headers,
                body=b"",
                private_key=private_key,
                public_key_id="AH1",
            )


# --------------------------------------------------------------------------------------
# Authorization header
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_authorization_header_round_trip(algorithm: str) -> None:
    signature = base64.b64encode(bytes(range(256))).decode()
    value = build_authorization_header(algorithm, "SANDBOX-AH1", ["accept", "x-amz-pay-date"], signature)
    assert value == (f"{algorithm} PublicKeyId=SANDBOX-AH1, SignedHeaders=accept;x-amz-pay-date, Signature={signature}")
    assert parse_authorization_header(value) == AuthorizationHeader(
        algorithm=algorithm,
        public_key_id="SANDBOX-AH1",
        signed_headers=("accept", "x-amz-pay-date"),
        signature=signature,
    )


def test_build_authorization_header_normalises_names() -> None:
    value = build_authorization_header(ALGORITHM_V2, "AH1", ["X-Amz-Pay-Date", "Accept", "content-type"], "c2ln")
    assert "SignedHeaders=accept;content-type;x-amz-pay-date," in value


def test_parse_authorization_header_is_lenient_on_layout() -> None:
    value = f"  {ALGORITHM_V1}   Signature=c2lnbmF0dXJl,SignedHeaders=X-Amz-Pay-Date;Accept ,  PublicKeyId=AH1  "
    assert parse_authorization_header(value) == AuthorizationHeader(
        algorithm=ALGORITHM_V1,
        public_key_id="AH1",
        signed_headers=("x-amz-pay-date", "accept"),
        signature="c2lnbmF0dXJl",
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        ALGORITHM_V2,
        "Bearer token",
        "AMZN-PAY-RSASSA-PSS-V3 PublicKeyId=a, SignedHeaders=accept, Signature=c2ln",
        "amzn-pay-rsassa-pss-v2 PublicKeyId=a, SignedHeaders=accept, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=a, SignedHeaders=accept",
        f"{ALGORITHM_V2} PublicKeyId=a, Signature=c2ln",
        f"{ALGORITHM_V2} SignedHeaders=accept, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=a, PublicKeyId=b, SignedHeaders=a, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=a, SignedHeaders=accept, Signature=c2ln, Extra=1",
        f"{ALGORITHM_V2} publickeyid=a, SignedHeaders=accept, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=, SignedHeaders=accept, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=a b, SignedHeaders=accept, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=a, SignedHeaders=, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=a, SignedHeaders=accept;;date, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=a, SignedHeaders=accept;Accept, Signature=c2ln",
        f"{ALGORITHM_V2} PublicKeyId=a, SignedHeaders=accept, Signature=",
        f"{ALGORITHM_V2} PublicKeyId=a, SignedHeaders=accept, Signature",
        f"{ALGORITHM_V2} PublicKeyId=a, SignedHeaders=accept, Signature=c2ln,",
        f"{ALGORITHM_V2} PublicKeyId=a SignedHeaders=accept Signature=c2ln",
    ],
)
def test_parse_authorization_header_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        parse_authorization_header(value)


@pytest.mark.parametrize(
    ("algorithm", "key_id", "names", "signature"),
    [
        ("AMZN-PAY-RSASSA-PSS-V3", "AH1", ["accept"], "c2ln"),
        (ALGORITHM_V2, "", ["accept"], "c2ln"),
        (ALGORITHM_V2, "A H1", ["accept"], "c2ln"),
        (ALGORITHM_V2, "AH1,", ["accept"], "c2ln"),
        (ALGORITHM_V2, "AH1", [], "c2ln"),
        (ALGORITHM_V2, "AH1", ["accept", "ACCEPT"], "c2ln"),
        (ALGORITHM_V2, "AH1", ["accept"], ""),
        (ALGORITHM_V2, "AH1", ["accept"], "c2ln\n"),
    ],
)
def test_build_authorization_header_rejects(algorithm: str, key_id: str, names: list[str], signature: str) -> None:
    with pytest.raises(ValueError):
        build_authorization_header(algorithm, key_id, names, signature)


# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------


def test_generate_key_pair() -> None:
    private_pem, public_pem = generate_key_pair()
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    private_key = load_private_key(private_pem)
    public_key = load_public_key(public_pem)
    assert private_key.key_size == 2048
    assert private_key.public_key().public_numbers() == public_key.public_numbers()
    assert generate_key_pair()[0] != private_pem


def test_load_keys_accept_pkcs1(key_pair: tuple[RSAPrivateKey, RSAPublicKey]) -> None:
    private_key, public_key = key_pair
    pkcs1_private = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    pkcs1_public = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    assert pkcs1_private.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert load_private_key(pkcs1_private).private_numbers() == private_key.private_numbers()
    assert load_public_key(pkcs1_public).public_numbers() == public_key.public_numbers()


def test_load_private_key_errors(key_pair: tuple[RSAPrivateKey, RSAPublicKey]) -> None:
    private_key, public_key = key_pair
    public_pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    encrypted = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="not a valid PEM private key"):
        load_private_key(b"garbage")
    with pytest.raises(ValueError, match="not a valid PEM private key"):
        load_private_key(public_pem)
    with pytest.raises(ValueError, match="encrypted"):
        load_private_key(encrypted)
    with pytest.raises(ValueError, match="not an RSA private key"):
        load_private_key(ec_pem)


def test_load_public_key_errors(key_pair: tuple[RSAPrivateKey, RSAPublicKey]) -> None:
    private_key, _ = key_pair
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    ec_public_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not a valid PEM public key"):
        load_public_key(b"")
    with pytest.raises(ValueError, match="not a valid PEM public key"):
        load_public_key(private_pem)
    with pytest.raises(ValueError, match="not an RSA public key"):
        load_public_key(ec_public_pem)


def test_small_key_still_signs_v1_and_v2() -> None:
    # Keys smaller than Amazon's still work: 1024-bit RSA fits salt 32 + SHA-256.
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    for algorithm in ALGORITHMS:
        signature = sign(key, algorithm, "text")
        assert verify(key.public_key(), algorithm, "text", signature)
