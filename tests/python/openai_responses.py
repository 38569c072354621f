"""The official OpenAI Python SDK's Responses API against a running tollgate gateway.

Run by tests/responses_front.rs (`cargo test --test responses_front`), which starts the mock
provider and the gateway and passes:

  TOLLGATE_BASE_URL   the gateway's OpenAI base URL, http://127.0.0.1:PORT/v1
  TOLLGATE_KEY        a virtual key allowed every model
  TOLLGATE_MOCK_TEXT  the mock provider's default reply

Models: `gpt` (an OpenAI-kind target with the Responses API: passed through to the mock's
/v1/responses) and `claude` (an Anthropic-kind target: translated to chat, then to Anthropic
Messages, and back). Every check runs on both; the script prints one line per check and exits 1
if any failed.
"""

import json
import os
import sys
import traceback

import openai
from openai import OpenAI

BASE_URL = os.environ["TOLLGATE_BASE_URL"]
KEY = os.environ["TOLLGATE_KEY"]
MOCK_TEXT = os.environ["TOLLGATE_MOCK_TEXT"]

client = OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20.0)

MODELS = ["gpt", "claude"]
TOOLS = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
        "strict": False,
    }
]

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def create_non_stream(model):
    r = client.responses.create(model=model, instructions="Be brief.", input="echo: hello from the sdk")
    assert r.object == "response", r
    assert r.status == "completed", r
    assert r.output_text == "hello from the sdk", r.output_text
    assert r.usage.output_tokens == 4, r.usage
    assert r.usage.input_tokens > 0, r.usage
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens, r.usage
    assert r.usage.input_tokens_details.cached_tokens == 0, r.usage
    assert r.usage.output_tokens_details.reasoning_tokens == 0, r.usage


@check
def default_reply_with_message_items(model):
    r = client.responses.create(
        model=model,
        input=[
            {"role": "developer", "content": "Answer plainly."},
            {"role": "user", "content": [{"type": "input_text", "text": "Say hi"}]},
        ],
        max_output_tokens=100,
        temperature=0.5,
    )
    assert r.output_text == MOCK_TEXT, r.output_text
    assert r.output[0].type == "message", r.output
    assert r.output[0].role == "assistant", r.output


@check
def max_output_tokens_is_incomplete(model):
    r = client.responses.create(model=model, input="echo: one two three four five", max_output_tokens=2)
    assert r.status == "incomplete", r
    assert r.incomplete_details.reason == "max_output_tokens", r
    assert r.output_text == "one two", r.output_text


@check
def stream_true_events(model):
    stream = client.responses.create(model=model, input="echo: streamed word by word", stream=True)
    types, deltas, seqs = [], [], []
    final = None
    for ev in stream:
        types.append(ev.type)
        seqs.append(ev.sequence_number)
        if ev.type == "response.output_text.delta":
            deltas.append(ev.delta)
        if ev.type == "response.completed":
            final = ev.response
    assert types[0] == "response.created", types
    assert types[-1] == "response.completed", types
    assert "response.output_item.added" in types and "response.output_item.done" in types, types
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    assert "".join(deltas) == "streamed word by word", deltas
    assert final.output_text == "streamed word by word", final
    assert final.usage.output_tokens == 4, final.usage


@check
def stream_helper_final_response(model):
    with client.responses.stream(model=model, input="echo: helper stream") as stream:
        text = ""
        for ev in stream:
            if ev.type == "response.output_text.delta":
                text += ev.delta
        final = stream.get_final_response()
    assert text == "helper stream", text
    assert final.output_text == "helper stream", final


def tool_round_trip(model, stream):
    question = [{"role": "user", "content": "call: tollgate"}]
    if stream:
        with client.responses.stream(model=model, input=question, tools=TOOLS) as s:
            for _ in s:
                pass
            first = s.get_final_response()
    else:
        first = client.responses.create(model=model, input=question, tools=TOOLS)
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert call.name == "lookup", call
    assert json.loads(call.arguments) == {"text": "tollgate"}, call.arguments
    assert call.call_id, call
    follow_up = question + [
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "a gateway"},
    ]
    second = client.responses.create(model=model, input=follow_up, tools=TOOLS)
    assert second.status == "completed", second
    if model == "gpt":
        # The mock's rule for a function_call_output: it reached the provider intact.
        assert second.output_text == "result: a gateway", second.output_text
    else:
        assert second.output_text, second


@check
def function_tool_round_trip(model):
    tool_round_trip(model, stream=False)


@check
def function_tool_round_trip_streamed(model):
    tool_round_trip(model, stream=True)


@check
def builtin_tools_are_refused_by_name_on_translated_targets(model):
    if model == "gpt":
        return  # OpenAI itself decides about its built-in tools (passed through).
    try:
        client.responses.create(model=model, input="q", tools=[{"type": "web_search"}])
    except openai.BadRequestError as e:
        assert e.status_code == 400, e
        assert e.param == "tools", e.body
        assert "web_search" in str(e), e
        return
    raise AssertionError("expected a 400")


@check
def unknown_model_is_404(model):
    try:
        client.responses.create(model=model + "-nope", input="q")
    except openai.NotFoundError as e:
        assert e.code == "model_not_found", e.body
        return
    raise AssertionError("expected a 404")


def main():
    print(f"openai {openai.__version__} against {BASE_URL}")
    failed = 0
    total = 0
    for fn in CHECKS:
        for model in MODELS:
            total += 1
            try:
                fn(model)
                print(f"ok    {fn.__name__}[{model}]")
            except Exception:  # noqa: BLE001 - report every failure, keep going
                failed += 1
                print(f"FAIL  {fn.__name__}[{model}]")
                traceback.print_exc(file=sys.stdout)
    print(f"openai_responses.py: {total} checks, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
