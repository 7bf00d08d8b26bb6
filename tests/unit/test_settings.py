"""Settings refuse configurations that would fail later, at the first description."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scopix.server.settings import Settings


def test_the_vlm_needs_both_its_url_and_its_model() -> None:
    with pytest.raises(ValidationError, match="together"):
        Settings(vlm_base_url="http://localhost:11434/v1")
    with pytest.raises(ValidationError, match="together"):
        Settings(vlm_model="llava:7b")
    both = Settings(vlm_base_url="http://localhost:11434/v1", vlm_model="llava:7b")
    assert both.vlm_model == "llava:7b"


def test_some_analyzer_must_remain() -> None:
    with pytest.raises(ValidationError, match="no analyzer"):
        Settings(ondevice=False)
    assert not Settings(ondevice=False, vlm_base_url="http://h/v1", vlm_model="m").ondevice


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPIX_WORKERS", "5")
    monkeypatch.setenv("SCOPIX_VLM_API_KEY", "sk-secret")
    settings = Settings()
    assert settings.workers == 5
    assert "sk-secret" not in repr(settings)


def test_the_queue_must_be_redis() -> None:
    with pytest.raises(ValidationError, match="Redis"):
        Settings(queue_url="amqp://guest@localhost:5672//")
    assert Settings(queue_url="rediss://cache:6380/1").queue_url == "rediss://cache:6380/1"
    assert Settings(queue_url=None).job_sweep_seconds == 5.0
    assert Settings(job_lease_seconds=4).job_sweep_seconds == 2.0
