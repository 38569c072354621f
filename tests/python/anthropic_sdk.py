"""The official Anthropic Python SDK against the gateway's Messages front door.

Environment:
  TOLLGATE_BASE_URL     the gateway's root URL, http://127.0.0.1:PORT (the SDK adds /v1/messages)
  TOLLGATE_KEY          a virtual key allowed the `gpt`, `claude` and `demo` models
  TOLLGATE_MOCK_TEXT    the mock provider's default reply

`claude` is a `kind: anthropic` target (upstream model `claude-sonnet-4-5`) reached by
passthrough: its answers are Anthropic's own (model name, thinking blocks, cache usage).

Every check runs; the script prints one line per check and exits 1 if any failed.
"""

import os
import sys
import traceback

import anthropic
from anthropic import Anthropic

BASE_URL = os.environ["TOLLGATE_BASE_URL"]
KEY = os.environ["TOLLGATE_KEY"]
MOCK_TEXT = os.environ["TOLLGATE_MOCK_TEXT"]

client = Anthropic(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20.0)

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


MESSAGES = [{"role": "user", "content": "Say hi"}]


def create(model, reported=None):
    m = client.messages.create(
        model=model, max_tokens=100, system="Be brief.", messages=MESSAGES
    )
    assert m.type == "message", m
    assert m.role == "assistant", m
    assert m.model == (reported or model), m
    assert m.content[0].type == "text", m
    assert m.content[0].text == MOCK_TEXT, m
    assert m.stop_reason == "end_turn", m
    assert m.usage.input_tokens == 10, m.usage
    assert m.usage.output_tokens == 10, m.usage


@check
def create_openai_target():
    create("gpt")


@check
def create_anthropic_target():
    create("claude", reported="claude-sonnet-4-5")


def stream(model):
    with client.messages.stream(
        model=model, max_tokens=100, system="Be brief.", messages=MESSAGES
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == MOCK_TEXT, text
    assert final.content[0].text == MOCK_TEXT, final
    assert final.stop_reason == "end_turn", final
    assert final.usage.input_tokens == 10, final.usage
    assert final.usage.output_tokens == 10, final.usage


@check
def stream_openai_target():
    stream("gpt")


@check
def stream_anthropic_target():
    stream("claude")


@check
def tool_use():
    m = client.messages.create(
        model="claude",
        max_tokens=100,
        tools=[
            {
                "name": "shout",
                "description": "Shouts.",
                "input_schema": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                },
            }
        ],
        messages=[{"role": "user", "content": "call: hello"}],
    )
    assert m.stop_reason == "tool_use", m
    assert m.content[0].type == "tool_use", m
    assert m.content[0].name == "shout", m
    assert m.content[0].input == {"text": "hello"}, m


@check
def tool_use_streamed():
    with client.messages.stream(
        model="claude",
        max_tokens=100,
        tools=[
            {
                "name": "shout",
                "input_schema": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                },
            }
        ],
        messages=[{"role": "user", "content": "call: hello again"}],
    ) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use", final
    block = final.content[-1]
    assert block.type == "tool_use", final
    assert block.input == {"text": "hello again"}, final


THINKING = {"type": "enabled", "budget_tokens": 1024}
WEATHER = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
    "cache_control": {"type": "ephemeral"},
}


@check
def passthrough_thinking_and_tools_round_trip():
    first = client.messages.create(
        model="claude",
        max_tokens=2048,
        thinking=THINKING,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "call: Paris"}],
    )
    assert [b.type for b in first.content] == ["thinking", "tool_use"], first
    thinking, use = first.content
    assert thinking.signature.startswith("sig_mock"), thinking
    assert use.input == {"text": "Paris"}, use
    # The signed thinking block goes back unmodified with the tool result (the mock refuses a
    # thinking block without its signature).
    second = client.messages.create(
        model="claude",
        max_tokens=2048,
        thinking=THINKING,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "call: Paris"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "18C"},
                    {"type": "text", "text": "echo: thanks", "cache_control": {"type": "ephemeral"}},
                ],
            },
        ],
    )
    assert second.content[-1].text == "thanks", second
    assert second.usage.cache_read_input_tokens == 2, second.usage


@check
def passthrough_stream_with_thinking():
    with client.messages.stream(
        model="claude", max_tokens=2048, thinking=THINKING, messages=MESSAGES
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == MOCK_TEXT, text
    assert final.content[0].type == "thinking", final
    assert final.content[0].thinking == "Mock reasoning step.", final
    assert final.content[0].signature.startswith("sig_mock"), final
    assert final.usage.output_tokens == 13, final.usage


@check
def count_tokens_on_both_kinds():
    # Anthropic target: the provider's count ((3 + 2) system + (3 + 2) user on the mock).
    n = client.messages.count_tokens(model="claude", system="Be brief.", messages=MESSAGES)
    assert n.input_tokens == 10, n
    # OpenAI target: the gateway's tiktoken estimate.
    n = client.messages.count_tokens(model="gpt", system="Be brief.", messages=MESSAGES)
    assert 5 < n.input_tokens < 40, n


@check
def unknown_model_raises_not_found():
    try:
        client.messages.create(model="nope", max_tokens=10, messages=MESSAGES)
    except anthropic.NotFoundError as e:
        assert e.status_code == 404, e
        assert e.body["error"]["type"] == "not_found_error", e.body
    else:
        raise AssertionError("no exception")


@check
def bad_key_raises_authentication_error():
    bad = Anthropic(base_url=BASE_URL, api_key="sk-wrong", max_retries=0)
    try:
        bad.messages.create(model="gpt", max_tokens=10, messages=MESSAGES)
    except anthropic.AuthenticationError as e:
        assert e.status_code == 401, e
    else:
        raise AssertionError("no exception")


@check
def models_list_pages_and_retrieve_in_anthropic_shape():
    # limit=1: the SDK follows `last_id` / `has_more` page by page.
    page = client.models.list(limit=1)
    assert len(page.data) == 1 and page.has_more, page
    ids = [m.id for m in client.models.list(limit=1)]
    assert ids == sorted(ids) and len(ids) == len(set(ids)), ids
    assert {"claude", "gpt", "demo"} <= set(ids), ids
    m = client.models.retrieve("claude")
    assert m.type == "model" and m.id == "claude" and m.display_name == "claude", m
    assert m.created_at.year >= 1970 and m.lifecycle == "active", m
    try:
        client.models.retrieve("nope")
    except anthropic.NotFoundError as e:
        assert e.body["error"]["type"] == "not_found_error", e.body
    else:
        raise AssertionError("no exception")


def main():
    print(f"anthropic {anthropic.__version__} against {BASE_URL}")
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL  {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"anthropic_sdk.py: {len(CHECKS)} checks, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
