"""The request signatures against the providers' own published examples.

Aliyun RPC (HMAC-SHA1):
- the POP signature docs' ECS ``DescribeRegions`` example (AccessKeyId ``testid``, secret
  ``testsecret``): ``OLeaidS1JvxuMvnyHOwuJ+uX5qY=``, with the documented StringToSign; an older
  edition of the same page spells the parameter ``TimeStamp`` and gives
  ``CT9X0VtwR86fNWSnsc6v8YGOjuE=`` — both are reproduced, which pins the sort order too;
- the SMS docs' ``SendSms`` walkthrough (``testId`` / ``testSecret``, sign name
  阿里云短信测试专用): ``zJDF+Lrzhj/ThnlvIToysFRq6t4=`` (UTF-8 in a parameter).

Tencent Cloud TC3-HMAC-SHA256: the "Signature v3" page's CVM ``DescribeInstances`` example at
timestamp 1551113065 — payload hash, CanonicalRequest hash, StringToSign and the signature
``72e494ea…5168``, with the SecretKey the page prints (``Gu5t9xGARNpq86cd98joQYCN3EXAMPLE``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.notify import aliyun_sign, tencent_sign

ECS_EXAMPLE = {
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
}
ECS_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
    "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
    "%26Version%3D2014-05-26"
)
SMS_EXAMPLE = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}

TC3_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
TC3_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"


def test_aliyun_ecs_example_string_to_sign_and_signature() -> None:
    assert aliyun_sign.string_to_sign("GET", ECS_EXAMPLE) == ECS_STRING_TO_SIGN
    assert aliyun_sign.signature("testsecret", "GET", ECS_EXAMPLE) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_aliyun_older_example_spelled_timestamp_differently() -> None:
    params = dict(ECS_EXAMPLE)
    params["TimeStamp"] = params.pop("Timestamp")
    assert aliyun_sign.signature("testsecret", "GET", params) == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_aliyun_sms_example_with_chinese_sign_name() -> None:
    assert aliyun_sign.signature("testSecret", "GET", SMS_EXAMPLE) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_percent_encoding_rules() -> None:
    assert aliyun_sign.percent_encode("a b*c~d/e+f") == "a%20b%2Ac~d%2Fe%2Bf"
    assert aliyun_sign.percent_encode("派") == "%E6%B4%BE"
    assert aliyun_sign.percent_encode("-_.~") == "-_.~"


def test_aliyun_signed_adds_common_parameters() -> None:
    when = datetime(2016, 2, 23, 20, 46, 24, tzinfo=UTC)
    signed = aliyun_sign.signed(
        {"Action": "DescribeRegions", "Version": "2014-05-26"},
        access_key_id="testid",
        secret="testsecret",
        method="GET",
        when=when,
        nonce="3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    )
    assert signed["Timestamp"] == "2016-02-23T20:46:24Z"
    assert signed["SignatureMethod"] == "HMAC-SHA1"
    assert signed["SignatureVersion"] == "1.0"
    unsigned = {k: v for k, v in signed.items() if k != "Signature"}
    assert signed["Signature"] == aliyun_sign.signature("testsecret", "GET", unsigned)


def test_aliyun_signature_depends_on_method_and_secret() -> None:
    get = aliyun_sign.signature("testsecret", "GET", ECS_EXAMPLE)
    assert aliyun_sign.signature("testsecret", "POST", ECS_EXAMPLE) != get
    assert aliyun_sign.signature("other", "GET", ECS_EXAMPLE) != get


def test_tencent_canonical_request_of_the_published_example() -> None:
    request = tencent_sign.canonical_request("cvm.tencentcloudapi.com", TC3_PAYLOAD)
    assert request == (
        "POST\n/\n\n"
        "content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"
        "content-type;host\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )


def test_tencent_string_to_sign_of_the_published_example() -> None:
    assert tencent_sign.string_to_sign(
        "cvm.tencentcloudapi.com", TC3_PAYLOAD, 1551113065, "cvm"
    ) == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )


def test_tencent_signature_and_authorization_of_the_published_example() -> None:
    secret_id = "AKID**********************0123456789EXAMPLE"
    assert tencent_sign.authorization(
        secret_id, TC3_KEY, "cvm.tencentcloudapi.com", TC3_PAYLOAD, 1551113065, "cvm"
    ) == (
        f"TC3-HMAC-SHA256 Credential={secret_id}/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_tencent_scope_uses_the_utc_date() -> None:
    # 1551113065 is 2019-02-26 00:44:25 in UTC+8: the scope must still say 2019-02-25
    assert tencent_sign.scope(1551113065, "sms") == "2019-02-25/sms/tc3_request"
