"""WeCom callback crypto (WXBizMsgCrypt): signature, replay window, AES, XML safety.

Pure (no I/O). AES and the plaintext framing come from ``wechatpy`` (platforms.md §3.2); the
signature check, the timestamp check and the XML parsing are ours, because wechatpy compares
signatures with ``!=`` and never checks timestamp freshness (platforms.md §3.2, last bullet).

Replay window: platforms.md records no documented WeCom window; WeCom retries a callback only
within ~15 s (3 tries, 5 s each, platforms.md §3.4), so we accept ``timestamp`` within
±300 s of our clock (``REPLAY_WINDOW_S``) and refuse anything older or newer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element, ParseError, fromstring

from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

REPLAY_WINDOW_S = 300
_ENTITY_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class WeComCryptoError(Exception):
    """Base class: the callback is refused and nothing is changed."""


class SignatureError(WeComCryptoError):
    """``msg_signature`` does not match (HTTP 403)."""


class ReplayError(WeComCryptoError):
    """``timestamp`` outside the replay window (HTTP 403)."""


class MalformedError(WeComCryptoError):
    """Missing fields, undecryptable payload, bad XML or entity declarations (HTTP 400)."""


def sign(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``sha1`` of the four strings sorted and concatenated (platforms.md §3.2)."""
    parts = sorted(s.encode() for s in (token, timestamp, nonce, encrypt))
    return hashlib.sha1(b"".join(parts)).hexdigest()


def reject_entities(xml: str | bytes) -> None:
    """Refuse DOCTYPE/ENTITY before any parser sees the text (XXE / billion laughs)."""
    raw = xml.encode("utf-8", "surrogatepass") if isinstance(xml, str) else xml
    if _ENTITY_RE.search(raw):
        raise MalformedError("XML with DOCTYPE/ENTITY refused")


def parse_xml(xml: str | bytes) -> dict[str, Any]:
    """Parse a WeCom ``<xml>…</xml>`` document into a dict of its children, refusing entities:
    a text element gives its stripped text (None when empty), an element with children or
    attributes a dict, a repeated element a list (the shapes xmltodict gives, which wechatpy
    uses; ElementTree's C parser builds them in about a third of the time)."""
    try:
        # WeCom sends UTF-8. Decoded here, so the entity check below sees the text the parser
        # parses: in bytes of another encoding (UTF-16) a DOCTYPE would pass it unseen, and
        # ElementTree expands internal entities.
        text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    except UnicodeDecodeError:
        raise MalformedError("XML is not UTF-8") from None
    reject_entities(text)
    try:
        root = fromstring(text)
    except (ParseError, ValueError) as exc:
        raise MalformedError(f"bad XML: {type(exc).__name__}") from None
    doc = _value(root)
    if root.tag != "xml" or not isinstance(doc, dict):
        raise MalformedError("XML root is not <xml> with children")
    return doc


def _value(el: Element) -> Any:
    if not len(el) and not el.attrib:  # a leaf, as nearly every element is: its own text
        return (el.text or "").strip() or None
    text = "".join([el.text or "", *(child.tail or "" for child in el)]).strip()
    out: dict[str, Any] = {f"@{k}": v for k, v in el.attrib.items()}
    for child in el:
        value = _value(child)
        if child.tag not in out:
            out[child.tag] = value
        elif isinstance(out[child.tag], list):
            out[child.tag].append(value)
        else:
            out[child.tag] = [out[child.tag], value]
    if text:
        out["#text"] = text
    return out


class WeComCrypto:
    """Verifies and decrypts WeCom callbacks; encrypts passive replies."""

    def __init__(
        self,
        *,
        token: str,
        aes_key: str,
        corp_id: str,
        replay_window: int = REPLAY_WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            key = base64.b64decode(aes_key + "=", validate=True)
        except binascii.Error:
            key = b""
        if len(key) != 32:
            raise ValueError("EncodingAESKey must be 43 base64 characters (32 bytes)")
        self._token = token
        self._corp_id = corp_id
        self._wechat = WeChatCrypto(token, aes_key, corp_id)
        # one AES-CBC cipher (its decryptor is made per message): PrpCrypto built per message
        # cost more than the decryption itself
        self._prp = PrpCrypto(key)
        self._window = replay_window
        self._clock = clock

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET URL verification (platforms.md §3.1): returns the decrypted ``echostr``."""
        self._check(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt(self, body: str | bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        """POST body (outer ``<xml><Encrypt>…``) → verified, decrypted, entity-free inner XML."""
        envelope = parse_xml(body)
        encrypt = envelope.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise MalformedError("no <Encrypt> in envelope")
        self._check(msg_signature, timestamp, nonce, encrypt)
        inner = self._decrypt(encrypt)
        reject_entities(inner)
        return inner

    def encrypt(self, xml: str, *, nonce: str | None = None, timestamp: str | None = None) -> str:
        """Encrypted passive-reply envelope (platforms.md §3.2) for plaintext ``xml``."""
        nonce = nonce or secrets.token_hex(8)
        timestamp = timestamp or str(int(self._clock()))
        return str(self._wechat.encrypt_message(xml, nonce, timestamp))

    def _check(self, msg_signature: str, timestamp: str, nonce: str, payload: str) -> None:
        self._check_timestamp(timestamp)
        expected = sign(self._token, timestamp, nonce, payload)
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode()):
            raise SignatureError("msg_signature mismatch")

    def _check_timestamp(self, timestamp: str) -> None:
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise MalformedError("timestamp is not a number")
        if abs(self._clock() - int(timestamp)) > self._window:
            raise ReplayError("timestamp outside the replay window")

    def _decrypt(self, encrypt: str) -> str:
        try:
            # PrpCrypto also checks that the trailing receiveid equals our corp id (§3.2).
            return str(self._prp.decrypt(encrypt, self._corp_id))
        except Exception as exc:  # bad base64/padding/length/UTF-8, wrong corp id
            raise MalformedError(f"cannot decrypt: {type(exc).__name__}") from None
