import pytest
import torch


@pytest.fixture(scope="package", autouse=True)
def _single_torch_thread():
    """Tiny tensors: intra-op threading only adds overhead (ms per op on a busy
    machine). Restored after the package so other test directories are unaffected."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
