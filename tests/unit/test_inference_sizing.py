"""How a process sizes its model runs to its cores, and whether it loads them at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scopix.server.services.container import analyses_at_once, threads_per_run, warms_models
from scopix.server.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(data_dir=Path("/nonexistent"), **values)


def test_models_load_at_start_where_jobs_run() -> None:
    assert warms_models(settings(workers=2))
    assert not warms_models(settings(workers=0)), "an API-only replica runs no description"
    assert warms_models(settings(workers=0, warm_models=True))
    assert not warms_models(settings(workers=2, warm_models=False))


def test_one_analysis_per_worker_within_the_limiter() -> None:
    assert analyses_at_once(settings(workers=2, inference_threads=4)) == 2
    assert analyses_at_once(settings(workers=8, inference_threads=4)) == 4
    assert analyses_at_once(settings(workers=0, inference_threads=3)) == 3


def test_the_cores_are_shared_by_the_analyses_at_once() -> None:
    assert threads_per_run(settings(workers=2, inference_threads=2), cores=2) == 1
    assert threads_per_run(settings(workers=1, inference_threads=2), cores=2) == 2
    assert threads_per_run(settings(workers=2, inference_threads=8), cores=8) == 4
    assert threads_per_run(settings(workers=4, inference_threads=4), cores=2) == 1, "never 0"
