import pytest

#: The two sides every parity test body runs on; the kernel one carries the kernel marker (skips without bpf(),
#: fails under PYEBPF_REQUIRE_KERNEL=1). The VM's two engines agree by tests/vm; one is enough here.
SIDES = [pytest.param("vm-interp", id="vm"), pytest.param("kernel", id="kernel", marks=pytest.mark.kernel)]


@pytest.fixture(params=SIDES)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param
