import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _single_torch_thread():
    """The tests use tiny networks and tensors: torch's intra-op threads only add
    synchronisation cost (milliseconds per op on a busy 2-core machine).
    Restored at the end of the session."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
