"""Fast checks without a running server: settings, validation, the decoder against transformers,
the engine's deadlines."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_server import config as config_module
from model_server.config import load_config
from model_server.errors import ApiError
from model_server.events import Delta, Failed, Finished
from model_server.params import ChatParams

from .conftest import TINY_SHAPE, real_tokenizer, tiny_llama


def test_readme_settings_table_is_generated_from_config():
    readme = (Path(config_module.__file__).parent / "README.md").read_text()
    assert config_module.markdown_table() in readme


def test_flags_override_env_which_overrides_defaults():
    env = {"MODEL_SERVER_PORT": "9001", "MODEL_SERVER_DTYPE": "fp32"}
    assert load_config([], env=env).port == 9001
    cfg = load_config(["--port", "9002", "--max-batch-size", "4"], env=env)
    assert (cfg.port, cfg.dtype, cfg.max_batch_size, cfg.host) == (9002, "fp32", 4, "127.0.0.1")
    with pytest.raises(SystemExit):
        load_config(["--dtype", "fp8"], env={})


def parse(**body):
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return ChatParams.parse(body, "m", max_tokens_cap=512, default_max_tokens=128)


def test_chat_params_defaults_and_aliases():
    p = parse(stop="###", max_completion_tokens=7)
    assert (p.max_tokens, p.temperature, p.top_p, p.stop, p.stream) == (7, 1.0, 1.0, ("###",), False)
    p = parse(messages=[{"role": "user", "content": [{"type": "text", "text": "a"},
                                                     {"type": "text", "text": "b"}]}])
    assert p.messages[0]["content"] == "ab"
    assert parse(temperature=0).greedy


@pytest.mark.parametrize("body,status,param", [
    ({"max_tokens": 513}, 400, "max_tokens"),
    ({"temperature": float("nan")}, 400, "temperature"),
    ({"model": "other"}, 404, "model"),
    ({"stream_options": {"include_usage": "yes"}}, 400, "stream_options.include_usage"),
])
def test_chat_params_errors(body, status, param):
    with pytest.raises(ApiError) as err:
        parse(**body)
    assert (err.value.status, err.value.param) == (status, param)


def test_penalties_are_parsed_and_bounded():
    p = parse(frequency_penalty=1.0, presence_penalty=0.5)
    assert (p.frequency_penalty, p.presence_penalty, p.penalized) == (1.0, 0.5, True)
    assert not parse().penalized
    with pytest.raises(ApiError) as err:
        parse(frequency_penalty=2.5)
    assert err.value.param == "frequency_penalty"


def test_penalties_lower_the_logits_of_generated_tokens_openai_style():
    """logit -= presence * (count > 0) + frequency * count, over generated tokens only."""
    import torch
    from types import SimpleNamespace

    from model_server.engine import Engine

    params = parse(frequency_penalty=1.0, presence_penalty=0.5)
    sequence = SimpleNamespace(req=SimpleNamespace(params=params), detok=SimpleNamespace(ids=[2, 2, 5]))
    row = torch.zeros(8)
    penalized = Engine._penalize(row, sequence)
    assert penalized.tolist() == [0, 0, -2.5, 0, 0, -1.5, 0, 0]
    assert row.tolist() == [0.0] * 8  # the batch's logits are not changed in place
    neutral = SimpleNamespace(req=SimpleNamespace(params=parse()), detok=SimpleNamespace(ids=[2]))
    assert Engine._penalize(row, neutral) is row


def test_decoder_matches_transformers_logits():
    """Our decoder against transformers' Llama, same random weights (GQA, tied embeddings)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from model_server.llama import KVCache, Llama, LlamaShape

    hf_config = dict(model_type="llama", num_hidden_layers=TINY_SHAPE["n_layers"],
                     hidden_size=TINY_SHAPE["hidden"],
                     num_attention_heads=TINY_SHAPE["n_heads"],
                     num_key_value_heads=TINY_SHAPE["n_kv_heads"],
                     intermediate_size=TINY_SHAPE["intermediate"], vocab_size=500,
                     rope_theta=TINY_SHAPE["rope_theta"], rms_norm_eps=TINY_SHAPE["rms_eps"],
                     tie_word_embeddings=True, max_position_embeddings=256)
    torch.manual_seed(0)
    ref_model = LlamaForCausalLM(LlamaConfig(**hf_config)).eval()
    shape = LlamaShape.from_hf_config(hf_config)
    ours = Llama(shape, ref_model.state_dict(), "fp32")
    ids = torch.randint(0, 500, (40,)).tolist()
    with torch.no_grad():
        ref = ref_model(torch.tensor([ids])).logits[0, -1]
    cache = KVCache(shape, 2, 256, torch.float32)
    n = len(ids)
    # Row 1 of a batch of two, the other row padded shorter: masks and slots must keep them apart.
    tokens = torch.tensor([ids[: n - 3] + [0, 0, 0], ids])
    positions = torch.arange(n).repeat(2, 1)
    logits = ours.forward(tokens, positions, cache, 0, n, torch.tensor([n - 4, n - 1]))
    assert (logits[1] - ref).abs().max() < 1e-4
    assert logits[1].argmax() == ref.argmax()


def test_the_packaged_chat_model_ends_turns_with_im_end():
    from model_server import loading
    from model_server.llama import LlamaShape

    loading.enforce_offline()
    files = loading.resolve_chat_model("", str(config_module.REPO_ROOT / ".cache" / "models"))
    assert files.eos_token_ids == (2,)
    assert LlamaShape.from_hf_config(files.config).n_layers == 30


def test_deadlines_end_running_and_queued_requests_with_a_504():
    """The engine ends a request whose deadline passed, whether it is running
    or still queued, and its slot serves the next request."""
    import asyncio
    import time

    from model_server.engine import Engine, GenerationRequest

    tokenizer = real_tokenizer()
    model = tiny_llama(len(tokenizer))
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Write a long story about a hiking trip."}],
        add_generation_prompt=True, tokenize=True, return_dict=False)
    params = ChatParams.parse({"messages": [{"role": "user", "content": "x"}], "max_tokens": 200,
                               "temperature": 0}, "m", 512, 64)

    def request(deadline_in_s: float) -> GenerationRequest:
        return GenerationRequest(prompt_ids=list(ids), params=params,
                                 deadline=time.monotonic() + deadline_in_s)

    async def last_event(req: GenerationRequest, on_first_delta=None):
        while True:
            event = await asyncio.wait_for(req.events.get(), 60)
            if isinstance(event, Delta):
                if on_first_delta is not None:
                    on_first_delta()
                    on_first_delta = None
                continue
            return event

    async def scenario():
        engine = Engine(model, tokenizer, (), max_batch_size=1, max_queue_size=4,
                        max_seq_len=512, prefill_token_budget=512, threads=1)
        engine.start(asyncio.get_running_loop())
        try:
            running, queued = request(60), request(-1)  # the second one's deadline has passed
            engine.submit(running)
            engine.submit(queued)  # waits: the only slot is taken

            def expire_running():  # once it streams, its deadline passes
                running.deadline = time.monotonic()

            queued_end = await last_event(queued)
            running_end = await last_event(running, on_first_delta=expire_running)
            after = request(60)
            engine.submit(after)
            after_end = await last_event(after)
        finally:
            engine.stop()
        return queued_end, running_end, after_end

    queued_end, running_end, after_end = asyncio.run(scenario())
    assert queued_end == Failed(504, "request deadline exceeded while queued")
    assert running_end == Failed(504, "request deadline exceeded")
    assert isinstance(after_end, Finished) and after_end.reason == "length"  # the slot was freed
    assert after_end.usage == {"prompt_tokens": len(ids), "completion_tokens": 200,
                               "total_tokens": len(ids) + 200}
