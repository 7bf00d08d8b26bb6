"""Reading S3 storage URLs: `s3://bucket/prefix?endpoint=...&region=...&addressing=...`."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.storage.s3 import S3Location


def test_a_bucket_alone_is_virtual_hosted_aws() -> None:
    assert S3Location.parse("s3://photos") == S3Location("photos", "", None, None, "virtual")


def test_every_part_is_read() -> None:
    location = S3Location.parse(
        "s3://photos/tenants/blobs/?endpoint=https://minio.lan:9000&region=eu-west-3"
    )
    assert location == S3Location(
        "photos", "tenants/blobs", "https://minio.lan:9000", "eu-west-3", "path"
    )


@pytest.mark.parametrize(
    ("url", "addressing"),
    [
        ("s3://b-1?endpoint=http://127.0.0.1:9000", "path"),
        ("s3://b-1?endpoint=http://127.0.0.1:9000&addressing=virtual", "virtual"),
        ("s3://b-1?addressing=path", "path"),
        ("s3://b-1", "virtual"),
    ],
)
def test_addressing_is_path_by_default_only_with_an_endpoint(url: str, addressing: str) -> None:
    assert S3Location.parse(url).addressing == addressing


def test_keys_live_under_the_prefix() -> None:
    location = S3Location.parse("s3://photos/a/b")
    assert location.key("t/x") == "a/b/t/x"
    assert location.store_key("a/b/t/x") == "t/x"
    assert S3Location.parse("s3://photos").key("t/x") == "t/x"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("https://photos", "starts with s3://"),
        ("photos", "starts with s3://"),
        ("s3://", "bucket"),
        ("s3://Photos", "bucket"),
        ("s3://ph", "bucket"),
        ("s3://photos_2024", "bucket"),
        ("s3://key:secret@photos", "bucket"),
        ("s3://photos:9000", "bucket"),
        ("s3://photos#frag", "bucket"),
        ("s3://photos/a//b", "prefix"),
        ("s3://photos/a/../b", "prefix"),
        ("s3://photos?endpoint=minio:9000", "endpoint"),
        ("s3://photos?endpoint=ftp://minio", "endpoint"),
        ("s3://photos?endpoint=http://", "endpoint"),
        ("s3://photos?endpoint=http://u:p@minio", "endpoint"),
        ("s3://photos?endpoint=http://minio:99999", "port"),
        ("s3://photos?endpoint=http://minio:nine", "port"),
        ("s3://photos?addressing=dns", "addressing"),
        ("s3://photos?regoin=eu-west-3", "unknown"),
        ("s3://photos?region=a&region=b", "twice"),
        ("s3://photos?region=", "without a value"),
        ("s3://photos?region", "malformed"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        S3Location.parse(url)


_segment = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,8}", fullmatch=True)
_locations = st.builds(
    S3Location,
    bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True),
    prefix=st.lists(_segment, max_size=3).map("/".join),
    endpoint=st.none()
    | st.builds(
        "{}://{}:{}".format,
        st.sampled_from(["http", "https"]),
        st.sampled_from(["127.0.0.1", "minio.lan", "s3.example.com"]),
        st.integers(1, 65535),
    ),
    region=st.none() | st.sampled_from(["us-east-1", "eu-west-3", "auto"]),
    addressing=st.sampled_from(["path", "virtual"]),
)


@given(_locations)
def test_url_reads_back_to_the_same_location(location: S3Location) -> None:
    assert S3Location.parse(location.url) == location


@given(_locations, st.lists(_segment, min_size=1, max_size=4).map("/".join))
def test_store_key_undoes_key(location: S3Location, key: str) -> None:
    assert location.store_key(location.key(key)) == key


@given(st.text(max_size=80) | st.text(max_size=60).map("s3://{}".format))
def test_any_text_parses_or_raises_value_error(url: str) -> None:
    with contextlib.suppress(ValueError):
        S3Location.parse(url)
