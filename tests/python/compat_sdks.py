"""The official OpenAI and Anthropic Python SDKs against a gateway model served by an
OpenAI-format provider with quirks: an Azure OpenAI target, or a Mistral-preset target (the
mock provider's Azure and Mistral dialects, tests/mock-provider/src/compat.rs).

Environment:
  TOLLGATE_BASE_URL     the gateway's OpenAI base URL, http://127.0.0.1:PORT/v1
  TOLLGATE_ROOT_URL     the gateway's root URL (the Anthropic SDK adds /v1/messages)
  TOLLGATE_KEY          a virtual key allowed the models below
  TOLLGATE_MODEL        the chat model (a gateway model group)
  TOLLGATE_EMBED_MODEL  an embeddings model, or empty to skip that check
  TOLLGATE_MOCK_TEXT    the mock provider's default reply
  TOLLGATE_ID_RULE      `alnum9` when tool-call ids the client sees must be 9 letters/digits

Every check runs; the script prints one line per check and exits 1 if any failed.
"""

import json
import os
import re
import sys
import traceback

import anthropic
import openai
from anthropic import Anthropic
from openai import OpenAI

BASE_URL = os.environ["TOLLGATE_BASE_URL"]
ROOT_URL = os.environ["TOLLGATE_ROOT_URL"]
KEY = os.environ["TOLLGATE_KEY"]
MODEL = os.environ["TOLLGATE_MODEL"]
EMBED_MODEL = os.environ.get("TOLLGATE_EMBED_MODEL", "")
MOCK_TEXT = os.environ["TOLLGATE_MOCK_TEXT"]
ID_RULE = os.environ.get("TOLLGATE_ID_RULE", "")

oa = OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20.0)
an = Anthropic(base_url=ROOT_URL, api_key=KEY, max_retries=0, timeout=20.0)

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Local time of a city",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}},
]


def check_id(call_id):
    if ID_RULE == "alnum9":
        assert re.fullmatch(r"[A-Za-z0-9]{9}", call_id), call_id
    else:
        assert call_id, call_id


@check
def openai_text():
    r = oa.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "echo: hello from the sdk"}],
        max_completion_tokens=50)
    assert r.choices[0].message.content == "hello from the sdk", r
    assert r.choices[0].finish_reason == "stop", r
    assert r.usage.completion_tokens == 4, r.usage


@check
def openai_stream_with_usage():
    stream = oa.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hi"}], stream=True,
        stream_options={"include_usage": True})
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert text == MOCK_TEXT, text
    assert finish == "stop", finish
    assert usage is not None and usage.completion_tokens == 10, usage
    assert usage.prompt_tokens == 5, usage


@check
def openai_stream_without_usage():
    stream = oa.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "echo: a b c"}], stream=True)
    text = ""
    for chunk in stream:
        for c in chunk.choices:
            text += c.delta.content or ""
    assert text == "a b c", text


def parallel_calls(stream):
    args = {"model": MODEL, "tools": TOOLS, "tool_choice": "required",
            "messages": [{"role": "user", "content": "call: Paris"}]}
    if not stream:
        r = oa.chat.completions.create(**args)
        assert r.choices[0].finish_reason == "tool_calls", r
        return [(c.id, c.function.name, c.function.arguments) for c in r.choices[0].message.tool_calls]
    calls = {}
    finish = None
    for chunk in oa.chat.completions.create(stream=True, **args):
        for c in chunk.choices:
            finish = c.finish_reason or finish
            for d in c.delta.tool_calls or []:
                slot = calls.setdefault(d.index, ["", "", ""])
                slot[0] = d.id or slot[0]
                if d.function is not None:
                    slot[1] += d.function.name or ""
                    slot[2] += d.function.arguments or ""
    assert finish == "tool_calls", finish
    return [tuple(calls[i]) for i in sorted(calls)]


def round_trip(calls):
    assert [c[1] for c in calls] == ["get_weather", "get_time"], calls
    for call_id, _, arguments in calls:
        check_id(call_id)
        assert json.loads(arguments) == {"text": "Paris"}, arguments
    history = [
        {"role": "user", "content": "call: Paris"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls]},
    ] + [{"role": "tool", "tool_call_id": i, "content": "sunny"} for i, _, _ in calls] + [
        {"role": "user", "content": "echo: thanks"}]
    r = oa.chat.completions.create(model=MODEL, tools=TOOLS, messages=history)
    assert r.choices[0].message.content == "thanks", r


@check
def openai_parallel_tools_round_trip():
    round_trip(parallel_calls(stream=False))


@check
def openai_parallel_tools_streamed_round_trip():
    round_trip(parallel_calls(stream=True))


@check
def openai_history_with_foreign_tool_ids():
    # Ids minted by other providers (OpenAI, Anthropic) in the client's history.
    history = [
        {"role": "user", "content": "call: Paris"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc123XYZ", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_abc123XYZ", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "noon"},
        {"role": "user", "content": "echo: ok"},
    ]
    r = oa.chat.completions.create(model=MODEL, tools=TOOLS, messages=history)
    assert r.choices[0].message.content == "ok", r


@check
def openai_embeddings():
    if not EMBED_MODEL:
        return
    r = oa.embeddings.create(model=EMBED_MODEL, input=["hello world", "bye"])
    assert len(r.data) == 2, r
    assert len(r.data[0].embedding) == 8, r


@check
def anthropic_text():
    m = an.messages.create(model=MODEL, max_tokens=100, system="Be brief.",
                           messages=[{"role": "user", "content": "Say hi"}])
    assert m.content[0].text == MOCK_TEXT, m
    assert m.stop_reason == "end_turn", m
    assert m.usage.input_tokens == 10, m.usage
    assert m.usage.output_tokens == 10, m.usage


@check
def anthropic_stream():
    with an.messages.stream(model=MODEL, max_tokens=100, system="Be brief.",
                            messages=[{"role": "user", "content": "Say hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == MOCK_TEXT, text
    assert final.stop_reason == "end_turn", final
    assert final.usage.output_tokens == 10, final.usage


ANTHROPIC_TOOLS = [
    {"name": t["function"]["name"], "description": t["function"]["description"],
     "input_schema": t["function"]["parameters"]} for t in TOOLS]


@check
def anthropic_tools_round_trip():
    m = an.messages.create(model=MODEL, max_tokens=100, tools=ANTHROPIC_TOOLS,
                           messages=[{"role": "user", "content": "call: Oslo"}])
    assert m.stop_reason == "tool_use", m
    uses = [b for b in m.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["get_weather", "get_time"], m
    assert all(u.input == {"text": "Oslo"} for u in uses), m
    m2 = an.messages.create(model=MODEL, max_tokens=100, tools=ANTHROPIC_TOOLS, messages=[
        {"role": "user", "content": "call: Oslo"},
        {"role": "assistant", "content": m.content},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": u.id, "content": "cold"} for u in uses
        ] + [{"type": "text", "text": "echo: merci"}]},
    ])
    assert m2.content[0].text == "merci", m2


@check
def anthropic_tools_streamed():
    with an.messages.stream(model=MODEL, max_tokens=100, tools=ANTHROPIC_TOOLS,
                            messages=[{"role": "user", "content": "call: Rome"}]) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use", final
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [u.input for u in uses] == [{"text": "Rome"}, {"text": "Rome"}], final


def main():
    print(f"openai {openai.__version__}, anthropic {anthropic.__version__} against {BASE_URL} ({MODEL})")
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL  {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"compat_sdks.py: {len(CHECKS)} checks, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
