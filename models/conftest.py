"""Shared pytest fixtures for the model tools. Tests run on one thread: the dev machines and CI
have two cores shared with other jobs."""
from pathlib import Path

import pytest
import torch

from tools.common import shared_dir

torch.set_num_threads(1)


@pytest.fixture(scope='session')
def mirror() -> Path:
    """The read-only shared asset mirror. Tests that need it fail (never skip) when it is absent."""
    path = shared_dir()
    if not (path / 'models' / 'mobilefacenet.pt').is_file():
        pytest.fail(f'shared asset mirror not found at {path} (set DIFFIQA_SHARED or place it at ../shared)')
    return path
