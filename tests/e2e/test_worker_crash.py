"""A worker killed in the middle of a description: the job runs again once its lease expires and
completes exactly once. The worker is a real `scopix serve` process, killed with SIGKILL."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx

from imagefactory import jpeg_bytes
from scopix.server.testing import wait_for_status
from vlmserver import FakeVLMServer

LEASE_S = 3


def test_a_killed_worker_s_job_completes_exactly_once(server_factory: Any, tmp_path: Path) -> None:
    with FakeVLMServer() as vlm:
        vlm.script([("slow", {"delay": 60})])  # the first attempt is still waiting when killed
        env = {
            "SCOPIX_VLM_BASE_URL": vlm.base_url,
            "SCOPIX_VLM_MODEL": vlm.model,
            "SCOPIX_ONDEVICE": "false",
            "SCOPIX_JOB_LEASE_SECONDS": str(LEASE_S),
        }
        data_dir = tmp_path / "data"
        first = server_factory.start(env=env, data_dir=data_dir)
        headers = {"Authorization": f"Bearer {first.keys()[0]}"}
        response = httpx.post(
            f"{first.base_url}/api/v2/files/upload",
            files={"file": ("p.jpg", jpeg_bytes(320, 240, seed=51))},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        file_id = response.json()["image_id"]
        assert vlm.wait_for_requests(1, timeout=60)  # the worker is inside the job now
        status = httpx.get(f"{first.base_url}/api/v2/files/{file_id}/status", headers=headers)
        assert status.json()["description_status"] == "processing"

        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        second = server_factory.start(env=env, data_dir=data_dir, args=("--workers", "1"))
        done = wait_for_status(
            second.base_url, headers, file_id, lambda s: s["description_status"] == "completed"
        )

        assert done["description_attempts"] == 2
        assert vlm.request_count == 2
        details = httpx.get(f"{second.base_url}/api/v2/files/{file_id}", headers=headers).json()
        events = [e["event"] for e in details["processing_history"]]
        assert events.count("description_succeeded") == 1
        assert events.count("description_lease_expired") == 1
        assert events.count("description_claimed") == 2
        quota = httpx.get(f"{second.base_url}/api/v2/uploads/quota-check", headers=headers)
        assert quota.json()["current_usage"] == 1  # charged once
