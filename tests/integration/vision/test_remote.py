"""The OpenAI-compatible analyzer against a real HTTP fake VLM: answers, requests, failures."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import numpy as np
import pytest
import pyvips
from hypothesis import example, given
from hypothesis import strategies as st

from scopix.server.vision.base import AnalyzerError, DecodedImage
from scopix.server.vision.remote import (
    PROMPT_VERSION,
    OpenAICompatibleAnalyzer,
    VLMAnswer,
    parse_answer,
)
from scopix.server.vision.remote.openai_compat import MAX_ANSWER_BYTES
from scopix.types.describe import DescriptionErrorType
from vlmserver import FakeVLMServer

KEY = "sk-test-SECRET-0123456789abcdef"
VLM_ERROR = DescriptionErrorType.VLM_ERROR


@pytest.fixture(scope="module")
def image() -> DecodedImage:
    jpeg = pyvips.Image.black(32, 32).jpegsave_buffer()
    return DecodedImage(pixels=np.zeros((32, 32, 3), dtype=np.uint8), jpeg=jpeg)


@pytest.fixture
def vlm() -> Iterator[FakeVLMServer]:
    with FakeVLMServer(model="llava:7b") as server:
        yield server


@pytest.fixture
async def analyzer(vlm: FakeVLMServer) -> AsyncIterator[OpenAICompatibleAnalyzer]:
    async with OpenAICompatibleAnalyzer(vlm.base_url, vlm.model, api_key=KEY, timeout=5) as a:
        yield a


async def _failure(analyzer: OpenAICompatibleAnalyzer, image: DecodedImage) -> AnalyzerError:
    with pytest.raises(AnalyzerError) as caught:
        await analyzer.analyze(image)
    return caught.value


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- answers ---------------------------------------------------------------------------------


async def test_an_answer_becomes_a_normalized_analysis(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    vlm.behave(
        "ok",
        description="  A red car parked by a bakery.  ",
        tags=["Car", " car ", "#Red", "", "Street   Scene"],
        key_elements=["red car", "Red car", "bakery sign"],
        visible_text="BAKERY\nOpen 7-19",
    )
    analysis = await analyzer.analyze(image)
    assert analysis.provider == "vlm:llava:7b"
    assert analysis.description == "A red car parked by a bakery."
    assert [t.label for t in analysis.tags] == ["car", "red", "street scene"]
    assert {t.score for t in analysis.tags} == {1.0}
    assert analysis.key_elements == ("red car", "bakery sign")
    assert analysis.visible_text == "BAKERY\nOpen 7-19"
    assert set(analysis.timings_ms) == {"vlm"}
    assert analysis.timings_ms["vlm"] > 0


async def test_no_visible_text_means_none(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    vlm.behave("ok", visible_text="")
    assert (await analyzer.analyze(image)).visible_text is None


async def test_a_fenced_answer_parses(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    vlm.behave("ok", fenced=True, description="Fenced.")
    assert (await analyzer.analyze(image)).description == "Fenced."


async def test_the_request_speaks_the_chat_completions_protocol(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    await analyzer.analyze(image)
    [request] = vlm.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.model == "llava:7b"
    assert request.bearer == KEY
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.body["temperature"] == 0
    assert request.body["max_tokens"] == 800
    assert [m["role"] for m in request.messages] == ["system", "user"]
    text, picture = request.messages[1]["content"]
    assert text["type"] == "text" and "JSON" in request.messages[0]["content"]
    assert picture["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert request.image == image.jpeg


async def test_without_a_key_no_authorization_is_sent(
    vlm: FakeVLMServer, image: DecodedImage
) -> None:
    async with OpenAICompatibleAnalyzer(vlm.base_url + "/", vlm.model, max_tokens=64) as a:
        await a.analyze(image)
    [request] = vlm.requests
    assert "authorization" not in request.headers
    assert request.path == "/v1/chat/completions"  # the trailing slash is tolerated
    assert request.body["max_tokens"] == 64


async def test_a_script_runs_once_then_the_standing_behaviour_returns(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    vlm.script(["rate_limit", ("error", {"status": 503})])
    assert (await _failure(analyzer, image)).error_type is DescriptionErrorType.RATE_LIMIT
    assert (await _failure(analyzer, image)).error_type is VLM_ERROR
    assert (await analyzer.analyze(image)).description
    assert vlm.request_count == 3


# -- failures --------------------------------------------------------------------------------


async def test_an_answer_slower_than_the_timeout_is_a_timeout(
    vlm: FakeVLMServer, image: DecodedImage
) -> None:
    vlm.behave("slow", delay=30)
    async with OpenAICompatibleAnalyzer(vlm.base_url, vlm.model, timeout=0.3) as a:
        error = await _failure(a, image)
    assert error.error_type is DescriptionErrorType.TIMEOUT
    assert "0.3 s" in error.message


async def test_a_rate_limit_carries_retry_after(
    vlm: FakeVLMServer,
    analyzer: OpenAICompatibleAnalyzer,
    image: DecodedImage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    vlm.script([("rate_limit", {"retry_after": 12}), ("rate_limit", {"retry_after": None})])
    error = await _failure(analyzer, image)
    assert (error.error_type, error.retry_after) == (DescriptionErrorType.RATE_LIMIT, 12.0)
    assert "429" in error.message and "Rate limit reached" in caplog.text
    assert (await _failure(analyzer, image)).retry_after is None


async def test_a_rate_limit_with_an_http_date(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    vlm.behave("rate_limit", retry_after=later)
    error = await _failure(analyzer, image)
    assert error.retry_after is not None and 100 < error.retry_after <= 120


@pytest.mark.parametrize(
    ("status", "error_type", "hint"),
    [
        (500, VLM_ERROR, "500"),
        (502, VLM_ERROR, "502"),
        (408, DescriptionErrorType.TIMEOUT, "408"),
        (400, VLM_ERROR, "accepts images"),
        (401, VLM_ERROR, "API key"),
        (404, VLM_ERROR, "model name"),
        (418, VLM_ERROR, "HTTP 418"),
    ],
)
async def test_http_errors_are_classified(
    vlm: FakeVLMServer,
    analyzer: OpenAICompatibleAnalyzer,
    image: DecodedImage,
    caplog: pytest.LogCaptureFixture,
    status: int,
    error_type: DescriptionErrorType,
    hint: str,
) -> None:
    vlm.behave("error", status=status, message="details from the server")
    error = await _failure(analyzer, image)
    assert error.error_type is error_type
    assert hint in error.message
    # The provider's own words may name hosts and models: operators read them in the log.
    assert "details from the server" not in error.message
    [record] = [r for r in caplog.records if r.name == "scopix.vision.remote"]
    assert "details from the server" in record.getMessage()
    assert f"llava:7b at 127.0.0.1:{vlm.port}" in record.getMessage()


@pytest.mark.parametrize("mode", ["garbage", "empty", "invalid", "truncated", "drop"])
async def test_unusable_answers_are_vlm_errors(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage, mode: str
) -> None:
    vlm.behave(mode)
    error = await _failure(analyzer, image)
    assert error.error_type is VLM_ERROR
    assert "vision model" in error.message
    assert "llava:7b" not in error.message and str(vlm.port) not in error.message
    if mode == "truncated":
        assert "max_tokens=800" in error.message


async def test_a_server_that_is_down_is_a_vlm_error(image: DecodedImage) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    async with OpenAICompatibleAnalyzer(url, "m", api_key=KEY, timeout=5) as a:
        error = await _failure(a, image)
    assert error.error_type is VLM_ERROR
    assert "could not be reached" in error.message
    assert url.split("//")[1].split("/")[0] not in error.message


@pytest.mark.parametrize(
    ("mode", "opts"),
    [
        ("error", {"status": 401, "message": f"Incorrect API key provided: {KEY}."}),
        ("error", {"status": 500, "message": f"boom {KEY}"}),
        ("rate_limit", {}),
        ("garbage", {"content": f"your key is {KEY}"}),
        ("invalid", {"answer": {"tags": [KEY]}}),
        ("slow", {"delay": 30}),
    ],
)
async def test_the_key_never_appears_in_errors_or_logs(
    vlm: FakeVLMServer,
    image: DecodedImage,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    opts: dict[str, Any],
) -> None:
    caplog.set_level("DEBUG")
    vlm.behave(mode, **opts)
    async with OpenAICompatibleAnalyzer(vlm.base_url, vlm.model, api_key=KEY, timeout=0.5) as a:
        error = await _failure(a, image)
    assert KEY not in "".join(traceback.format_exception(error))
    assert KEY not in repr(error) and KEY not in error.message
    assert KEY not in caplog.text
    assert caplog.records, "failures are logged (at debug level)"


async def test_a_huge_answer_is_cut_at_the_cap(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    vlm.behave("huge", size=64 * 2**20)
    error = await _failure(analyzer, image)
    assert error.error_type is VLM_ERROR
    assert f"over {MAX_ANSWER_BYTES // 2**20} MiB" in error.message


async def test_an_answer_just_under_the_cap_is_read_whole(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    vlm.behave("huge", size=MAX_ANSWER_BYTES)
    error = await _failure(analyzer, image)
    # All whitespace: read to the end and found not to be JSON, rather than refused for its size.
    assert "not JSON" in error.message


@pytest.mark.parametrize("cut", range(-12, 13, 3))
async def test_a_key_at_the_excerpts_edge_is_redacted_whole(
    vlm: FakeVLMServer,
    analyzer: OpenAICompatibleAnalyzer,
    image: DecodedImage,
    caplog: pytest.LogCaptureFixture,
    cut: int,
) -> None:
    # The excerpt keeps 199 characters: put the key across that edge, by a few either way.
    vlm.behave("error", status=401, message="x" * (199 - len(KEY) // 2 + cut) + KEY)
    error = await _failure(analyzer, image)
    logged = "".join(r.getMessage() for r in caplog.records)
    assert "xxxx" in logged, "the excerpt is logged"
    for leaked in (error.message, logged):
        assert KEY[:8] not in leaked, "no piece of the key, however it was cut"


# -- identity and lifecycle ------------------------------------------------------------------


async def test_the_fingerprint_names_host_model_and_prompt() -> None:
    async with httpx.AsyncClient() as client:
        a = OpenAICompatibleAnalyzer("http://gpu-box:11434/v1", "llava:7b", KEY, client=client)
        same = OpenAICompatibleAnalyzer("http://u:pw@gpu-box:11434/v1/", "llava:7b", client=client)
        other_model = OpenAICompatibleAnalyzer(
            "http://gpu-box:11434/v1", "qwen2.5vl", client=client
        )
        other_host = OpenAICompatibleAnalyzer(
            "https://api.openai.com/v1", "llava:7b", client=client
        )
    assert a.name == "vlm:llava:7b"
    assert a.fingerprint == f"vlm:llava:7b@gpu-box:11434:prompt-{PROMPT_VERSION}"
    assert KEY not in a.fingerprint
    assert same.fingerprint == a.fingerprint
    assert len({a.fingerprint, other_model.fingerprint, other_host.fingerprint}) == 3


@pytest.mark.parametrize(
    "url", ["localhost:11434/v1", "ftp://host/v1", "http:///v1", "", "http://[::1/v1"]
)
def test_a_bad_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        OpenAICompatibleAnalyzer(url, "m")


async def test_a_given_client_stays_open_an_owned_one_closes(vlm: FakeVLMServer) -> None:
    async with httpx.AsyncClient() as client:
        borrowed = OpenAICompatibleAnalyzer(vlm.base_url, vlm.model, client=client)
        await borrowed.aclose()
        assert not client.is_closed
    owned = OpenAICompatibleAnalyzer(vlm.base_url, vlm.model)
    await owned.aclose()
    assert owned._client.is_closed


# -- parsing properties ----------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_phrases = st.lists(st.text(max_size=70), max_size=25) | st.text(max_size=70) | _json
_answers = st.fixed_dictionaries(
    {},
    optional={
        "description": st.text(max_size=50) | _json,
        "tags": _phrases,
        "key_elements": _phrases,
        "visible_text": st.text(max_size=50) | st.lists(st.text(max_size=10)) | _json,
    },
)


def _check(answer: VLMAnswer) -> None:
    assert answer.description and answer.description == answer.description.strip()
    assert len(answer.tags) <= 15 and len(answer.key_elements) <= 10
    assert len(set(answer.tags)) == len(answer.tags)
    assert all(t and t == t.lower() and len(t) <= 50 for t in answer.tags)
    assert all(e and e == e.strip() and len(e) <= 120 for e in answer.key_elements)
    assert isinstance(answer.visible_text, str)


@given(_answers | _json, st.booleans())
@example({"description": "\x1c"}, False)  # whitespace to str.strip(), not to pydantic's strip
def test_any_json_is_an_answer_or_a_vlm_error(data: object, fenced: bool) -> None:
    content = json.dumps(data)
    if fenced:
        content = f"```json\n{content}\n```"
    try:
        answer = parse_answer(content)
    except AnalyzerError as error:
        assert error.error_type is VLM_ERROR
    else:
        _check(answer)


@given(st.text())
def test_any_text_is_an_answer_or_a_vlm_error(content: str) -> None:
    try:
        _check(parse_answer(content))
    except AnalyzerError as error:
        assert error.error_type is VLM_ERROR


def test_deeply_nested_json_is_a_vlm_error() -> None:
    with pytest.raises(AnalyzerError):
        parse_answer("[" * 100_000 + "]" * 100_000)


def test_chatter_around_the_object_is_tolerated() -> None:
    answer = parse_answer('Sure! Here is the JSON: {"description": "A dog.", "tags": "Dog, pet"}')
    assert (answer.description, answer.tags) == ("A dog.", ("dog", "pet"))


# -- the fake server itself ------------------------------------------------------------------


def test_the_fake_is_reachable_from_another_process(vlm: FakeVLMServer) -> None:
    fetch = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
    out = subprocess.run(
        [sys.executable, "-c", fetch, vlm.base_url + "/models"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert json.loads(out)["data"][0]["id"] == "llava:7b"
    assert vlm.requests[0].path == "/v1/models"


async def test_a_slow_answer_does_not_hold_up_others(
    vlm: FakeVLMServer, analyzer: OpenAICompatibleAnalyzer, image: DecodedImage
) -> None:
    vlm.script([("slow", {"delay": 30})])
    slow = asyncio.create_task(analyzer.analyze(image))
    assert await asyncio.to_thread(vlm.wait_for_requests, 1)
    assert (await analyzer.analyze(image)).description
    assert not slow.done()
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow


def test_the_fake_decodes_the_image_it_was_sent(vlm: FakeVLMServer) -> None:
    payload = {
        "model": "x",
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "nope"}}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": "not a dict"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}},
                ],
            },
        ],
    }
    response = httpx.post(vlm.base_url + "/chat/completions", json=payload)
    assert response.status_code == 200
    assert vlm.requests[0].image == b"hi"
    assert httpx.post(vlm.base_url + "/chat/completions", content=b"{").status_code == 400
    assert not vlm.requests[1].has_image


def test_unknown_modes_are_refused(vlm: FakeVLMServer) -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        vlm.behave("teapot")
