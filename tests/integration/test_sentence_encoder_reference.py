"""The NumPy sentence encoder gives Transformers' numbers: the model server's
embedder (PyTorch, in the model server's environment) on the same packaged
model, for the same texts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from custom_components.sentence_encoder import SentenceEncoder, packaged_model_dir

ROOT = Path(__file__).resolve().parents[2]
MODEL_SERVER_PYTHON = ROOT / ".venv" / "llm" / "bin" / "python"
TEXTS = [
    "where is my order 40521?",
    "Can I return a sleeping bag I used outdoors?",
    "hi",
    "Quelle est la politique de retour ? 你好",
    "a very long message " * 40,
]
REFERENCE = """
import json, sys
from pathlib import Path
from model_server.embeddings import Embedder
texts = json.loads(sys.stdin.read())
print(json.dumps(Embedder(Path(sys.argv[1])).embed(texts).vectors))
"""


def test_the_numpy_encoder_matches_transformers():
    if not MODEL_SERVER_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("no model server environment: scripts/test.sh setup makes it")
        pytest.skip("no model server environment (.venv/llm)")
    reference = subprocess.run(
        [str(MODEL_SERVER_PYTHON), "-c", REFERENCE, str(packaged_model_dir())],
        input=json.dumps(TEXTS), capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    assert reference.returncode == 0, reference.stderr[-2000:]
    expected = np.array(json.loads(reference.stdout), dtype=np.float32)
    ours = SentenceEncoder.packaged().encode(TEXTS)
    # the long text is cut at 128 tokens here, at 256 there: compare the rest exactly
    np.testing.assert_allclose(ours[:-1], expected[:-1], atol=2e-5)
    assert float(ours[-1] @ expected[-1]) > 0.95
