"""WXBizMsgCrypt vectors (WeCom's official sample and wechatpy round trips) and refusals."""

from __future__ import annotations

import time
from xml.etree.ElementTree import Element, tostring

import pytest
import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.platforms.wecom.crypto import (
    MalformedError,
    ReplayError,
    SignatureError,
    WeComCrypto,
    parse_xml,
    sign,
)
from tests.fakes.wecom_server import AES_KEY, CORP_ID, TOKEN, WeComCallbackSender, text_xml

# The official WXBizMsgCrypt sample (the C#/Java/PHP/Python SDK samples all ship it).
SAMPLE_TOKEN = "QDG6eK"
SAMPLE_CORP = "wx5823bf96d3bd56c7"
SAMPLE_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SAMPLE_ECHO = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
SAMPLE_POST = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ"
    "6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJ"
    "Ts3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ"
    "+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqb"
    "Sf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9Ks"
    "NlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encr"
    "ypt><AgentID><![CDATA[218]]></AgentID></xml>"
)


def sample_crypto(now: int) -> WeComCrypto:
    return WeComCrypto(token=SAMPLE_TOKEN, aes_key=SAMPLE_KEY, corp_id=SAMPLE_CORP,
                       clock=lambda: now)


def crypto() -> WeComCrypto:
    return WeComCrypto(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID)


def test_official_url_verification_vector() -> None:
    c = sample_crypto(1409659589)
    plain = c.verify_url("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
                         SAMPLE_ECHO)
    assert plain == "1616140317555161061"


def test_official_post_vector() -> None:
    c = sample_crypto(1409659813)
    xml = c.decrypt(SAMPLE_POST, "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813",
                    "1372623149")
    fields = parse_xml(xml)
    assert fields["FromUserName"] == "mycreate"
    assert fields["Content"] == "hello"
    assert fields["MsgId"] == "4561255354251345929"


def test_signature_is_wechatpy_compatible() -> None:
    assert sign("QDG6eK", "1409659589", "263014780", SAMPLE_ECHO) == (
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3")


def test_wechatpy_encrypted_request_round_trip() -> None:
    req = WeComCallbackSender().message(text_xml(content="赞 @lisi 10 好"))
    q = req.query
    xml = crypto().decrypt(req.body, q["msg_signature"], q["timestamp"], q["nonce"])
    assert parse_xml(xml)["Content"] == "赞 @lisi 10 好"


def test_our_passive_reply_decrypts_with_wechatpy() -> None:
    reply = "<xml><MsgType><![CDATA[update_button]]></MsgType></xml>"
    envelope = crypto().encrypt(reply, nonce="abc", timestamp=str(int(time.time())))
    fields = parse_xml(envelope)
    theirs = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    assert theirs.decrypt_message(envelope, fields["MsgSignature"], fields["TimeStamp"],
                                  "abc") == reply


def test_url_verification_round_trip() -> None:
    q = WeComCallbackSender().url_verification("hello-echo").query
    assert crypto().verify_url(q["msg_signature"], q["timestamp"], q["nonce"],
                               q["echostr"]) == "hello-echo"


def test_bad_signature_refused() -> None:
    q = WeComCallbackSender().url_verification("x").query
    with pytest.raises(SignatureError):
        crypto().verify_url("0" * 40, q["timestamp"], q["nonce"], q["echostr"])


@pytest.mark.parametrize("skew", [-301, 301, -10_000])
def test_stale_or_future_timestamp_refused(skew: int) -> None:
    ts = str(int(time.time()) + skew)
    req = WeComCallbackSender().message(text_xml(), timestamp=ts)
    q = req.query
    with pytest.raises(ReplayError):
        crypto().decrypt(req.body, q["msg_signature"], q["timestamp"], q["nonce"])


def test_timestamp_inside_window_accepted() -> None:
    ts = str(int(time.time()) - 250)
    req = WeComCallbackSender().message(text_xml(), timestamp=ts)
    q = req.query
    assert crypto().decrypt(req.body, q["msg_signature"], ts, q["nonce"])


def test_wrong_corp_id_refused() -> None:
    req = WeComCallbackSender(corp_id="wwsomeoneelse").message(text_xml())
    q = req.query
    with pytest.raises(MalformedError):
        crypto().decrypt(req.body, q["msg_signature"], q["timestamp"], q["nonce"])


@pytest.mark.parametrize("body", [
    b"not xml at all",
    b"<xml><ToUserName>x</ToUserName></xml>",  # no Encrypt
    b"<xml><Encrypt>!!!notbase64!!!</Encrypt></xml>",
    b"<xml><Encrypt><a>nested</a></Encrypt></xml>",
])
def test_malformed_envelopes_refused(body: bytes) -> None:
    ts = str(int(time.time()))
    with pytest.raises((MalformedError, SignatureError)):
        crypto().decrypt(body, "0" * 40, ts, "n")


def test_undecryptable_payload_with_valid_signature_refused() -> None:
    ts, nonce, encrypt = str(int(time.time())), "n", "QUJDRA=="
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    with pytest.raises(MalformedError):
        crypto().decrypt(body, sign(TOKEN, ts, nonce, encrypt), ts, nonce)


ENTITY_XML = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "boom">]>'
              "<xml><Encrypt>&e;</Encrypt></xml>")


def test_entity_in_envelope_refused_before_parsing() -> None:
    with pytest.raises(MalformedError, match="DOCTYPE"):
        crypto().decrypt(ENTITY_XML, "0" * 40, str(int(time.time())), "n")


def test_entity_in_decrypted_inner_xml_refused() -> None:
    inner = '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>'
    req = WeComCallbackSender().message(inner)
    q = req.query
    with pytest.raises(MalformedError, match="DOCTYPE"):
        crypto().decrypt(req.body, q["msg_signature"], q["timestamp"], q["nonce"])


def test_an_entity_in_another_encoding_is_refused_too() -> None:
    """In UTF-16 bytes the DOCTYPE does not show as ASCII; the body is read as UTF-8 (what
    WeCom sends) before the check, so it is refused instead of expanded by the parser."""
    with pytest.raises(MalformedError):
        parse_xml(ENTITY_XML.replace("<?xml version=\"1.0\"?>", "").encode("utf-16"))
    with pytest.raises(MalformedError, match="DOCTYPE"):
        parse_xml(ENTITY_XML.encode())


_TAGS = st.sampled_from(["A", "B", "Content", "MsgId"])
_TEXT = st.text(st.sampled_from(list(" \t\nab1积分<&>\"'")), max_size=6)


@st.composite
def _elements(draw: st.DrawFn, depth: int = 0) -> Element:
    el = Element(draw(_TAGS), {k: draw(_TEXT) for k in draw(st.lists(st.sampled_from("xy"),
                                                                     max_size=1, unique=True))})
    el.text = draw(st.none() | _TEXT)
    if depth < 2:
        for child in draw(st.lists(_elements(depth + 1), max_size=3)):
            child.tail = draw(st.none() | _TEXT)
            el.append(child)
    return el


@settings(max_examples=150, deadline=None)
@given(children=st.lists(_elements(), min_size=1, max_size=4))
def test_parse_xml_gives_what_xmltodict_gives(children: list[Element]) -> None:
    """The shapes wechatpy's parser (xmltodict) gives: stripped text or None, dicts for
    children and attributes, lists for repeated tags."""
    root = Element("xml")
    root.extend(children)
    doc = tostring(root, encoding="unicode")
    assert parse_xml(doc) == xmltodict.parse(doc, disable_entities=True)["xml"]


def test_bad_aes_key_rejected_at_construction() -> None:
    with pytest.raises(ValueError):
        WeComCrypto(token="t", aes_key="short", corp_id="c")
