"""codeloop serve, called by SandboxFusion's own Python SDK (``pip install sandbox-fusion``), as its users call
it: ``run_code`` and ``run_jupyter`` with the SDK's request models, the answers parsed by its response models."""

from __future__ import annotations

import base64
import shutil

import pytest

sdk = pytest.importorskip("sandbox_fusion")
from test_service import Served  # noqa: E402

from codeloop.scoring.local import LocalScorer  # noqa: E402
from codeloop.service.app import create_app  # noqa: E402

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def endpoint():
    scorer = LocalScorer({}, workers=2)
    app = create_app(scorer)  # no token: loopback, where the SDK (which sends none) talks to it
    served = Served(app)
    yield served.url
    served.stop()
    app.state.sessions.shutdown()
    scorer.close()


def test_run_code_through_the_sdk(endpoint):
    from sandbox_fusion import RunCodeRequest, RunStatus, run_code

    done = run_code(RunCodeRequest(code="print(int(input()) * 2)", stdin="21\n", language="python"),
                    endpoint=endpoint, max_attempts=1)
    assert done.status == RunStatus.Success and done.run_result.stdout == "42\n"
    data = {"n.txt": base64.b64encode(b"5\n").decode()}
    read = run_code(RunCodeRequest(code="print(open('n.txt').read().strip())", language="python", files=data),
                    endpoint=endpoint, max_attempts=1)
    assert read.run_result.stdout == "5\n"
    slow = run_code(RunCodeRequest(code="while True:\n    pass", language="python", run_timeout=0.5),
                    endpoint=endpoint, max_attempts=1)
    assert slow.status == RunStatus.Failed and slow.run_result.status.value == "TimeLimitExceeded"
    if shutil.which("g++") is not None:
        cpp = run_code(RunCodeRequest(code="#include <cstdio>\nint main() { puts(\"hi\"); }\n", language="cpp"),
                       endpoint=endpoint, max_attempts=1)
        assert cpp.status == RunStatus.Success and cpp.compile_result.return_code == 0
        assert cpp.run_result.stdout == "hi\n"
        broken = run_code(RunCodeRequest(code="int main() { return }", language="cpp"), endpoint=endpoint,
                          max_attempts=1)
        assert broken.status == RunStatus.Failed and broken.run_result is None and broken.compile_result.stderr


def test_run_jupyter_through_the_sdk(endpoint):
    from sandbox_fusion import RunJupyterRequest, RunStatus, run_jupyter

    cells = ["a = 123", "a", "print(a)", "raise RuntimeError('error message')"]
    done = run_jupyter(RunJupyterRequest(cells=cells, cell_timeout=5, total_timeout=30), endpoint=endpoint,
                       max_attempts=1)
    assert done.status == RunStatus.Success and len(done.cells) == 4
    assert done.cells[1].display == [{"text/plain": "123"}] and done.cells[2].stdout == "123\n"
    assert done.cells[3].error[0]["ename"] == "RuntimeError"
