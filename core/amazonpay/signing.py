r"""Amazon Pay API v2 request signing (``AMZN-PAY-RSASSA-PSS`` and its ``-V2``).

This module is shared by the HTTP client (which signs outgoing requests) and by the
local sandbox server (which verifies incoming ones), so every canonicalisation step here
is pure and deterministic: both sides build the same canonical request from the same
inputs.

The scheme (see ``amazonpay-api.md`` section 1):

* canonical request = method, canonical URI, canonical query string, canonical headers
  block, signed header names and the hex SHA-256 of the body, joined by ``\n``;
* string to sign = algorithm name + ``\n`` + hex SHA-256 of the canonical request;
* signature = RSASSA-PSS over the UTF-8 string to sign with SHA-256 and MGF1(SHA-256),
  salt length 20 (``AMZN-PAY-RSASSA-PSS``) or 32 (``AMZN-PAY-RSASSA-PSS-V2``), in
  standard Base64;
* header ``Authorization: <algorithm> PublicKeyId=<id>, SignedHeaders=<h1;h2>,
  Signature=<base64>``.

Canonicalisation follows the official Java and .NET SDKs, whose test vectors are
reproduced in ``tests/core/test_signing.py``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

# cryptography is imported by the functions that sign, verify or load keys: the date helpers
# here are used by every module that reads Amazon's objects, including at the window's start,
# which needs no key (issue 10 item 16).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

__all__ = [
    "ALGORITHM_V1",
    "ALGORITHM_V2",
    "DEFAULT_ALGORITHM",
    "EMPTY_BODY_SHA256",
    "SUPPORTED_ALGORITHMS",
    "AuthorizationHeader",
    "MissingHeaderError",
    "build_authorization_header",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "format_amz_date",
    "generate_key_pair",
    "load_private_key",
    "load_public_key",
    "parse_amz_date",
    "parse_authorization_header",
    "salt_length",
    "sign",
    "sign_request",
    "string_to_sign",
    "verify",
    "verify_request",
]

ALGORITHM_V1: Final = "AMZN-PAY-RSASSA-PSS"
"""Original algorithm name: RSASSA-PSS, SHA-256, MGF1(SHA-256), salt length 20."""

ALGORITHM_V2: Final = "AMZN-PAY-RSASSA-PSS-V2"
"""Newer algorithm name: RSASSA-PSS, SHA-256, MGF1(SHA-256), salt length 32."""

DEFAULT_ALGORITHM: Final = ALGORITHM_V2
"""Algorithm used by :func:`sign_request` unless told otherwise."""

SUPPORTED_ALGORITHMS: Final[tuple[str, ...]] = (ALGORITHM_V1, ALGORITHM_V2)
"""Every algorithm name this module can sign and verify with."""

EMPTY_BODY_SHA256: Final = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
"""Lower-case hex SHA-256 of an empty body (the payload hash of a body-less request)."""

_SALT_LENGTHS: Final[Mapping[str, int]] = {ALGORITHM_V1: 20, ALGORITHM_V2: 32}

# Bytes kept as they are by RFC 3986 encoding ("unreserved" characters).
_UNRESERVED: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
# In a path '/' is kept too, so that it keeps separating segments.
_UNRESERVED_PATH: Final = _UNRESERVED | frozenset(b"/")

_SLASH_RUN: Final = re.compile(r"/+")
# RFC 9110 "token": the shape of an HTTP method and of a header field name. Restricting
# names to tokens also keeps ':', ';', ',', spaces and line breaks out of the canonical
# request.
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A value inside the Authorization header: no whitespace and no field separator.
_AUTH_VALUE: Final = re.compile(r"[^\s,]+")

# x-amz-pay-date forms: '20190923T231908Z' (Java, .NET, PHP) and
# '2024-01-01T00:00:00Z' / '2024-01-01T00:00:00.123Z' (Node.js).
_AMZ_DATE_BASIC: Final = re.compile(
    r"(?P<Y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"
    r"T(?P<H>[0-9]{2})(?P<M>[0-9]{2})(?P<S>[0-9]{2})Z"
)
_AMZ_DATE_EXTENDED: Final = re.compile(
    r"(?P<Y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
    r"T(?P<H>[0-9]{2}):(?P<M>[0-9]{2}):(?P<S>[0-9]{2})(?:\.(?P<f>[0-9]+))?Z"
)

_PUBLIC_KEY_ID_FIELD: Final = "PublicKeyId"
_SIGNED_HEADERS_FIELD: Final = "SignedHeaders"
_SIGNATURE_FIELD: Final = "Signature"
_AUTH_FIELDS: Final = (_PUBLIC_KEY_ID_FIELD, _SIGNED_HEADERS_FIELD, _SIGNATURE_FIELD)


class MissingHeaderError(ValueError, KeyError):
    """A header named in the signed header list is not among the request's headers.

    It is a ``ValueError`` (the request cannot be canonicalised) and, for callers that
    think of headers as a mapping, also a ``KeyError``.

    Attributes:
        header: The lower-case name of the missing header.
    """

    def __init__(self, header: str) -> None:
        """Initialise the error.

        Args:
            header: The lower-case name of the missing header.
        """
        super().__init__(f"signed header {header!r} is missing from the request headers")
        self.header = header

    def __str__(self) -> str:
        """Return the plain message (``KeyError`` would show it quoted)."""
        return str(self.args[0])


# --------------------------------------------------------------------------------------
# Algorithms and dates
# --------------------------------------------------------------------------------------


def salt_length(algorithm: str) -> int:
    """Return the RSASSA-PSS salt length, in bytes, used by a signing algorithm.

    Args:
        algorithm: ``ALGORITHM_V1`` or ``ALGORITHM_V2`` (exact, case-sensitive).

    Returns:
        20 for ``AMZN-PAY-RSASSA-PSS``, 32 for ``AMZN-PAY-RSASSA-PSS-V2``.

    Raises:
        ValueError: If the algorithm name is not one of the two supported names.
    """
    try:
        return _SALT_LENGTHS[algorithm]
    except KeyError:
        expected = ", ".join(SUPPORTED_ALGORITHMS)
        raise ValueError(f"unknown signing algorithm {algorithm!r}; expected one of: {expected}") from None


def format_amz_date(moment: datetime) -> str:
    """Format a moment as an ``x-amz-pay-date`` value (``yyyyMMdd'T'HHmmss'Z'``, UTC).

    Fractions of a second are dropped (truncated), as the Java and .NET SDKs do.

    Args:
        moment: A timezone-aware datetime; it is converted to UTC.

    Returns:
        The formatted date, e.g. ``'20190923T231908Z'``.

    Raises:
        ValueError: If ``moment`` is naive (has no timezone).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("x-amz-pay-date needs a timezone-aware datetime")
    utc = moment.astimezone(UTC)
    # Explicit zero padding: strftime('%Y') does not pad years below 1000 everywhere.
    return f"{utc.year:04d}{utc.month:02d}{utc.day:02d}T{utc.hour:02d}{utc.minute:02d}{utc.second:02d}Z"


def parse_amz_date(value: str) -> datetime:
    """Parse an ``x-amz-pay-date`` value.

    Accepted forms (UTC only, upper-case ``T`` and ``Z``):

    * ``20190923T231908Z`` (Java, .NET, PHP SDKs, Amazon's documentation);
    * ``2024-01-01T00:00:00Z``, optionally with fractional seconds such as
      ``2024-01-01T00:00:00.123Z`` (Node.js SDK); digits beyond microseconds are
      dropped.

    Args:
        value: The header value, surrounding whitespace allowed.

    Returns:
        A timezone-aware datetime in UTC.

    Raises:
        ValueError: If the value has neither form or is not a valid calendar moment.
    """
    text = value.strip()
    match = _AMZ_DATE_BASIC.fullmatch(text) or _AMZ_DATE_EXTENDED.fullmatch(text)
    if match is None:
        raise ValueError(
            f"invalid x-amz-pay-date {value!r}; expected e.g. '20190923T231908Z' or '2019-09-23T23:19:08Z'"
        )
    fraction = match.groupdict().get("f") or ""
    microsecond = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        return datetime(
            int(match["Y"]),
            int(match["m"]),
            int(match["d"]),
            int(match["H"]),
            int(match["M"]),
            int(match["S"]),
            microsecond,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise ValueError(f"invalid x-amz-pay-date {value!r}: {exc}") from exc


# --------------------------------------------------------------------------------------
# Canonical request
# --------------------------------------------------------------------------------------


def _percent_encode(value: str, safe: frozenset[int]) -> str:
    """Percent-encode every UTF-8 byte of ``value`` that is not in ``safe`` as ``%XX``.

    Args:
        value: The text to encode.
        safe: The byte values kept as they are.

    Returns:
        The encoded text (ASCII only, upper-case hex digits).

    Raises:
        ValueError: If the text cannot be encoded as UTF-8 (lone surrogates).
    """
    return "".join(chr(byte) if byte in safe else f"%{byte:02X}" for byte in value.encode())


def canonical_uri(path: str) -> str:
    """Return the canonical URI of a request path (Java/.NET SDK rules).

    Runs of ``/`` are collapsed into one, every UTF-8 byte outside ``A-Za-z0-9-_.~/`` is
    percent-encoded as ``%XX`` (upper-case hex), a missing leading ``/`` is added and
    the empty path becomes ``/``. A trailing ``/`` is kept (the .NET SDK sends and
    signs one).

    Pass the path *before* percent-encoding (the decoded path): a literal ``%`` is
    encoded as ``%25``, exactly as the SDKs do. Client and server must both pass the
    same form.

    Args:
        path: The URL path only, without scheme, host, query or fragment.

    Returns:
        The canonical URI, e.g. ``'/sandbox/v2/charges'`` or ``'/%E1%88%B4'``.

    Raises:
        ValueError: If the path cannot be encoded as UTF-8.
    """
    if not path:
        return "/"
    encoded = _percent_encode(_SLASH_RUN.sub("/", path), _UNRESERVED_PATH)
    return encoded if encoded.startswith("/") else "/" + encoded


def canonical_query(params: Sequence[tuple[str, str]]) -> str:
    """Return the canonical query string of a request.

    Names and values are RFC 3986 encoded (UTF-8 bytes outside ``A-Za-z0-9-_.~`` become
    ``%XX``; a space becomes ``%20``), the pairs are sorted by encoded name and then by
    encoded value (ordinal), and joined as ``name=value`` with ``&``. Empty values are
    kept (``name=``). No parameters give the empty string.

    Args:
        params: The decoded query parameters in any order; repeated names are allowed.

    Returns:
        The canonical query string, e.g. ``'foo=a&foo=b'``.

    Raises:
        ValueError: If a name or value cannot be encoded as UTF-8.
    """
    pairs = sorted((_percent_encode(name, _UNRESERVED), _percent_encode(value, _UNRESERVED)) for name, value in params)
    return "&".join(f"{name}={value}" for name, value in pairs)


def _normalize_header_names(names: Iterable[str]) -> list[str]:
    """Lower-case, check and sort a list of signed header names.

    Args:
        names: Header names in any case and order.

    Returns:
        The lower-case names, sorted.

    Raises:
        ValueError: If a name is not an HTTP token or a name occurs twice.
    """
    result: list[str] = []
    seen: set[str] = set()
    for raw in names:
        stripped = raw.strip()
        # Check before lower-casing: str.lower() maps some non-ASCII letters to ASCII
        # (KELVIN SIGN -> 'k'), which must not make a non-token name valid.
        if not _TOKEN.fullmatch(stripped):
            raise ValueError(f"invalid header name {raw!r}")
        name = stripped.lower()
        if name in seen:
            raise ValueError(f"header {name!r} is listed more than once")
        seen.add(name)
        result.append(name)
    return sorted(result)


def _normalize_header_value(value: str) -> str:
    """Trim a header value and collapse each internal whitespace run into one space."""
    return " ".join(value.split())


def canonical_headers(headers: Mapping[str, str], signed_headers: Sequence[str]) -> str:
    r"""Return the canonical headers block for the signed headers.

    One ``name:value\n`` line per signed header: lower-case names sorted, values trimmed
    and each internal whitespace run replaced by a single space (.NET SDK rule). The
    block therefore ends with ``\n`` (empty string when nothing is signed). Header names
    are looked up case-insensitively; headers that are not signed are ignored.

    Args:
        headers: The request headers (names in any case).
        signed_headers: The names of the headers to include (any case, any order).

    Returns:
        The canonical headers block.

    Raises:
        MissingHeaderError: If a signed header is not in ``headers`` (a ``ValueError``
            and a ``KeyError``).
        ValueError: If a name is not a valid header name, a signed name is listed twice,
            or a signed header occurs in ``headers`` more than once with different
            letter case.
    """
    names = _normalize_header_names(signed_headers)
    wanted = set(names)
    values: dict[str, str] = {}
    for raw_name, value in headers.items():
        stripped = raw_name.strip()
        if not _TOKEN.fullmatch(stripped):
            continue  # not a valid header name, so never one of the signed names
        name = stripped.lower()
        if name not in wanted:
            continue
        if name in values:
            raise ValueError(f"header {name!r} is given more than once; cannot tell which is signed")
        values[name] = value
    lines: list[str] = []
    for name in names:
        if name not in values:
            raise MissingHeaderError(name)
        lines.append(f"{name}:{_normalize_header_value(values[name])}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    r"""Build the canonical request that is hashed into the string to sign.

    Its six parts are joined by ``\n`` with no trailing newline: the upper-case method,
    the canonical URI, the canonical query string (possibly empty), the canonical
    headers block (which ends with ``\n``, hence an empty line), the lower-case sorted
    signed header names joined by ``;``, and the lower-case hex SHA-256 of the body
    bytes.

    Args:
        method: The HTTP method (any case).
        path: The decoded URL path (see :func:`canonical_uri`).
        query: The decoded query parameters.
        headers: The request headers.
        signed_headers: The names of the headers that are signed.
        body: The exact body bytes sent (``b""`` when there is none).

    Returns:
        The canonical request text.

    Raises:
        ValueError: If the method or a header name is invalid, a signed header is
            missing or ambiguous (see :func:`canonical_headers`), or text cannot be
            UTF-8 encoded.
    """
    if not _TOKEN.fullmatch(method):
        raise ValueError(f"invalid HTTP method {method!r}")
    names = _normalize_header_names(signed_headers)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers(headers, names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        )
    )


def string_to_sign(algorithm: str, canonical_request_text: str) -> str:
    r"""Return the string to sign: algorithm name, ``\n``, hex SHA-256 of the text.

    Button signatures use the same construction, with the JSON payload as the text.

    Args:
        algorithm: ``ALGORITHM_V1`` or ``ALGORITHM_V2``.
        canonical_request_text: The canonical request (or button payload), hashed
            as UTF-8.

    Returns:
        The string to sign.

    Raises:
        ValueError: If the algorithm is unknown.
    """
    salt_length(algorithm)  # validates the name
    digest = hashlib.sha256(canonical_request_text.encode()).hexdigest()
    return f"{algorithm}\n{digest}"


# --------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------


def _pss(algorithm: str) -> padding.PSS:
    """Return the PSS padding (MGF1 SHA-256, exact salt length) of an algorithm."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt_length(algorithm))


def sign(private_key: RSAPrivateKey, algorithm: str, text: str) -> str:
    """Sign a string to sign with RSASSA-PSS/SHA-256.

    PSS is randomised: two signatures of the same text differ, and both verify.

    Args:
        private_key: The merchant's RSA private key.
        algorithm: ``ALGORITHM_V1`` (salt 20) or ``ALGORITHM_V2`` (salt 32).
        text: The string to sign (see :func:`string_to_sign`); signed as UTF-8.

    Returns:
        The signature, standard Base64 with padding.

    Raises:
        ValueError: If the algorithm is unknown.
    """
    from cryptography.hazmat.primitives import hashes

    signature = private_key.sign(text.encode(), _pss(algorithm), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(public_key: RSAPublicKey, algorithm: str, text: str, signature_b64: str) -> bool:
    """Check a Base64 RSASSA-PSS/SHA-256 signature of a string to sign.

    The salt length must be exactly the algorithm's (a salt-20 signature does not verify
    as ``ALGORITHM_V2`` and vice versa).

    Args:
        public_key: The RSA public key registered for the key id.
        algorithm: ``ALGORITHM_V1`` or ``ALGORITHM_V2``.
        text: The string to sign as rebuilt by the verifier.
        signature_b64: The signature, standard Base64 with padding.

    Returns:
        True if the signature is valid; False if it is not, or is not valid Base64.

    Raises:
        ValueError: If the algorithm is unknown (a bug, not a bad signature).
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes

    pss = _pss(algorithm)
    try:
        raw = base64.b64decode(signature_b64, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return False
    if not raw:
        return False
    try:
        public_key.verify(raw, text.encode(), pss, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# --------------------------------------------------------------------------------------
# Authorization header
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationHeader:
    """The parts of an ``Authorization`` header value.

    Attributes:
        algorithm: ``ALGORITHM_V1`` or ``ALGORITHM_V2``.
        public_key_id: The merchant's public key id (e.g. ``SANDBOX-AHX...``).
        signed_headers: Lower-case names of the signed headers, in the order listed.
        signature: The Base64 signature, as sent (not decoded or checked here).
    """

    algorithm: str
    public_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def _check_auth_value(field: str, value: str) -> str:
    """Check that a value fits in an Authorization header field.

    Args:
        field: The field name, for the error message.
        value: The value.

    Returns:
        The value unchanged.

    Raises:
        ValueError: If the value is empty or contains whitespace or a comma.
    """
    if not _AUTH_VALUE.fullmatch(value):
        raise ValueError(f"invalid {field} {value!r}: must be non-empty, without spaces or ','")
    return value


def build_authorization_header(
    algorithm: str, public_key_id: str, signed_headers: Sequence[str], signature: str
) -> str:
    """Build an ``Authorization`` header value.

    Args:
        algorithm: ``ALGORITHM_V1`` or ``ALGORITHM_V2``.
        public_key_id: The merchant's public key id.
        signed_headers: The signed header names; written lower-case and sorted, as in
            the canonical request.
        signature: The Base64 signature.

    Returns:
        ``'<algorithm> PublicKeyId=<id>, SignedHeaders=<a;b>, Signature=<base64>'``.

    Raises:
        ValueError: If the algorithm is unknown, no header is signed, a name is invalid
            or repeated, or the key id or signature is empty or contains whitespace or
            ``,``.
    """
    salt_length(algorithm)
    names = _normalize_header_names(signed_headers)
    if not names:
        raise ValueError("at least one header must be signed")
    _check_auth_value(_PUBLIC_KEY_ID_FIELD, public_key_id)
    _check_auth_value(_SIGNATURE_FIELD, signature)
    return (
        f"{algorithm} {_PUBLIC_KEY_ID_FIELD}={public_key_id}, "
        f"{_SIGNED_HEADERS_FIELD}={';'.join(names)}, {_SIGNATURE_FIELD}={signature}"
    )


def parse_authorization_header(value: str) -> AuthorizationHeader:
    """Parse an ``Authorization`` header value.

    The algorithm name comes first, followed by whitespace and the three fields
    ``PublicKeyId``, ``SignedHeaders`` and ``Signature`` (case-sensitive names, each
    exactly once, in any order) separated by commas with optional whitespace. The
    signature's Base64 is not decoded here; :func:`verify` rejects bad Base64.

    Args:
        value: The header value.

    Returns:
        The parsed header; signed header names are lower-cased, in the order listed.

    Raises:
        ValueError: If the value is malformed, the algorithm is unknown, a field is
            missing, repeated, unknown or empty, or a signed header name is invalid or
            repeated.
    """
    parts = value.strip().split(None, 1)
    if len(parts) != 2:
        raise ValueError("malformed Authorization header: expected '<algorithm> <fields>'")
    algorithm, rest = parts
    try:
        salt_length(algorithm)
    except ValueError as exc:
        raise ValueError(f"malformed Authorization header: {exc}") from None
    fields: dict[str, str] = {}
    for item in rest.split(","):
        field, equals, field_value = item.strip().partition("=")
        if not equals:
            raise ValueError(f"malformed Authorization header field {item.strip()!r}")
        if field not in _AUTH_FIELDS:
            raise ValueError(f"unknown Authorization header field {field!r}")
        if field in fields:
            raise ValueError(f"Authorization header field {field!r} given more than once")
        fields[field] = _check_auth_value(field, field_value)
    missing = [field for field in _AUTH_FIELDS if field not in fields]
    if missing:
        raise ValueError(f"Authorization header lacks {', '.join(missing)}")
    listed = fields[_SIGNED_HEADERS_FIELD].split(";")
    _normalize_header_names(listed)  # validates names and rejects repeats
    return AuthorizationHeader(
        algorithm=algorithm,
        public_key_id=fields[_PUBLIC_KEY_ID_FIELD],
        signed_headers=tuple(name.lower() for name in listed),
        signature=fields[_SIGNATURE_FIELD],
    )


# --------------------------------------------------------------------------------------
# Whole requests
# --------------------------------------------------------------------------------------


def sign_request(
    *,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    private_key: RSAPrivateKey,
    public_key_id: str,
    algorithm: str = ALGORITHM_V2,
) -> str:
    """Sign a request and return its ``Authorization`` header value.

    Every header in ``headers`` is signed, so pass exactly the headers that will be sent
    (``accept``, ``content-type``, ``x-amz-pay-date``, ``x-amz-pay-host``,
    ``x-amz-pay-region`` and e.g. ``x-amz-pay-idempotency-key``), with the values sent.

    Args:
        method: The HTTP method.
        path: The decoded URL path that will be sent (see :func:`canonical_uri`).
        query: The decoded query parameters.
        headers: The headers to sign and send (without ``Authorization``).
        body: The exact body bytes that will be sent.
        private_key: The merchant's RSA private key.
        public_key_id: The public key id registered with Amazon Pay.
        algorithm: ``ALGORITHM_V2`` (default) or ``ALGORITHM_V1``.

    Returns:
        The ``Authorization`` header value.

    Raises:
        ValueError: If no header is given, ``headers`` contains ``Authorization`` or the
            same name twice (in different case), or any input is invalid.
    """
    names = _normalize_header_names(headers.keys())
    if not names:
        raise ValueError("at least one header must be signed")
    if "authorization" in names:
        raise ValueError("the Authorization header cannot sign itself; leave it out of headers")
    text = canonical_request(method, path, query, headers, names, body)
    signature = sign(private_key, algorithm, string_to_sign(algorithm, text))
    return build_authorization_header(algorithm, public_key_id, names, signature)


def verify_request(
    *,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    authorization: str,
    public_key: RSAPublicKey,
) -> bool:
    """Verify a signed request the way the Amazon Pay server does.

    The ``Authorization`` value is parsed; the canonical request is rebuilt from the
    headers it lists in ``SignedHeaders`` (other headers are ignored) and checked
    against the signature with that algorithm's salt length. Which headers must be
    signed, the date's age and whether the key id is known are the caller's policy, not
    checked here.

    Args:
        method: The HTTP method received.
        path: The decoded URL path received (see :func:`canonical_uri`).
        query: The decoded query parameters received.
        headers: The headers received (names in any case).
        body: The exact body bytes received.
        authorization: The ``Authorization`` header value received.
        public_key: The RSA public key registered for the header's key id.

    Returns:
        True if the signature matches; False if it does not (including bad Base64).

    Raises:
        ValueError: If the ``Authorization`` value is malformed or names an unknown
            algorithm, or a signed header is missing (:class:`MissingHeaderError`) or
            ambiguous: the request cannot even be checked.
    """
    parsed = parse_authorization_header(authorization)
    text = canonical_request(method, path, query, headers, parsed.signed_headers, body)
    return verify(
        public_key,
        parsed.algorithm,
        string_to_sign(parsed.algorithm, text),
        parsed.signature,
    )


# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------


def load_private_key(pem: bytes) -> RSAPrivateKey:
    """Load an unencrypted PEM RSA private key (PKCS#8 or PKCS#1).

    Args:
        pem: The PEM file contents.

    Returns:
        The private key.

    Raises:
        ValueError: If the data is not PEM, is encrypted, or is not an RSA private key.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:
        # cryptography raises TypeError for an encrypted key when no password is given.
        raise ValueError(f"the private key is encrypted; an unencrypted PEM key is needed ({exc})") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a valid PEM private key: {exc}") from exc
    if isinstance(key, RSAPrivateKey):
        return key
    # ValueError, not TypeError: the caller passed bytes; their content is wrong.
    raise ValueError(f"not an RSA private key (got {type(key).__name__})")


def load_public_key(pem: bytes) -> RSAPublicKey:
    """Load a PEM RSA public key (SubjectPublicKeyInfo or PKCS#1).

    Args:
        pem: The PEM file contents.

    Returns:
        The public key.

    Raises:
        ValueError: If the data is not a PEM public key or not an RSA key.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a valid PEM public key: {exc}") from exc
    if isinstance(key, RSAPublicKey):
        return key
    # ValueError, not TypeError: the caller passed bytes; their content is wrong.
    raise ValueError(f"not an RSA public key (got {type(key).__name__})")


def generate_key_pair() -> tuple[bytes, bytes]:
    """Generate a new RSA 2048 key pair (e.g. for the local sandbox).

    Returns:
        ``(private_pem, public_pem)``: the private key as unencrypted PKCS#8 PEM and the
        public key as SubjectPublicKeyInfo PEM.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return private_pem, public_pem
