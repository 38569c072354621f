"""The official OpenAI and Anthropic Python SDKs against gateway models served by a Gemini target.

Environment:
  TOLLGATE_BASE_URL     the gateway's root URL, http://127.0.0.1:PORT
  TOLLGATE_KEY          a virtual key allowed the `gemini` and `gemini-embed` models
  TOLLGATE_MOCK_TEXT    the mock provider's default reply

The mock reports 3 + words per content as prompt tokens, and the words emitted plus 2 thinking
tokens as completion. Every check runs; the script prints one line per check and exits 1 if any
failed.
"""

import json
import os
import sys
import traceback

import anthropic
import openai
from anthropic import Anthropic
from openai import OpenAI

BASE_URL = os.environ["TOLLGATE_BASE_URL"]
KEY = os.environ["TOLLGATE_KEY"]
MOCK_TEXT = os.environ["TOLLGATE_MOCK_TEXT"]

oai = OpenAI(base_url=BASE_URL + "/v1", api_key=KEY, max_retries=0, timeout=20.0)
claude = Anthropic(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20.0)

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": False},
        "strict": True}},
    {"type": "function", "function": {
        "name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]


@check
def openai_text():
    r = oai.chat.completions.create(model="gemini", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "echo: hello from the sdk"},
    ])
    assert r.object == "chat.completion", r
    assert r.choices[0].message.content == "hello from the sdk", r
    assert r.choices[0].finish_reason == "stop", r
    assert r.usage.prompt_tokens == 5 + 8, r.usage
    assert r.usage.completion_tokens == 4 + 2, r.usage
    assert r.usage.completion_tokens_details.reasoning_tokens == 2, r.usage


@check
def openai_stream():
    stream = oai.chat.completions.create(
        model="gemini", messages=[{"role": "user", "content": "Say hi"}], stream=True)
    text, finish, usage = "", None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert text == MOCK_TEXT, text
    assert finish == "stop", finish
    assert usage is None, usage


@check
def openai_stream_with_usage():
    stream = oai.chat.completions.create(
        model="gemini", messages=[{"role": "user", "content": "Say hi"}], stream=True,
        stream_options={"include_usage": True})
    text, usage = "", None
    for chunk in stream:
        usage = chunk.usage or usage
        for c in chunk.choices:
            text += c.delta.content or ""
    assert text == MOCK_TEXT, text
    assert usage is not None and usage.prompt_tokens == 5, usage
    assert usage.completion_tokens == 12 and usage.total_tokens == 17, usage


@check
def openai_parallel_tools_round_trip():
    messages = [{"role": "user", "content": "call: Paris"}]
    r = oai.chat.completions.create(model="gemini", messages=messages, tools=TOOLS)
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls", r
    assert [c.function.name for c in msg.tool_calls] == ["get_weather", "get_time"], msg
    assert json.loads(msg.tool_calls[0].function.arguments) == {"text": "Paris"}, msg
    assert len({c.id for c in msg.tool_calls}) == 2, msg
    messages.append(msg.model_dump(exclude_none=True))
    for c, out in zip(msg.tool_calls, ['{"temp_c": 18}', "noon"]):
        messages.append({"role": "tool", "tool_call_id": c.id, "content": out})
    r = oai.chat.completions.create(model="gemini", messages=messages, tools=TOOLS)
    assert r.choices[0].message.content == "results for get_weather get_time", r


@check
def openai_streamed_tool_calls():
    stream = oai.chat.completions.create(
        model="gemini", messages=[{"role": "user", "content": "call: Tokyo"}], tools=TOOLS,
        tool_choice="required", stream=True, stream_options={"include_usage": True})
    calls, finish, usage = {}, None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for c in chunk.choices:
            finish = c.finish_reason or finish
            for t in c.delta.tool_calls or []:
                slot = calls.setdefault(t.index, {"id": None, "name": "", "args": ""})
                slot["id"] = t.id or slot["id"]
                slot["name"] += (t.function.name or "")
                slot["args"] += (t.function.arguments or "")
    assert sorted(calls) == [0, 1], calls
    assert calls[1]["name"] == "get_time", calls
    assert json.loads(calls[0]["args"]) == {"text": "Tokyo"}, calls
    assert finish == "tool_calls", finish
    assert usage is not None and usage.total_tokens > 0, usage


@check
def openai_embeddings():
    r = oai.embeddings.create(model="gemini-embed", input=["hello world", "bye"])
    assert len(r.data) == 2, r
    assert len(r.data[0].embedding) == 8, r
    assert r.usage.prompt_tokens > 0, r.usage
    r = oai.embeddings.create(model="gemini-embed", input="x", dimensions=5,
                              encoding_format="float")
    assert len(r.data[0].embedding) == 5, r


CLAUDE_TOOLS = [{"name": "get_weather", "description": "Weather for a city",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                  "required": ["city"]}}]


@check
def anthropic_text():
    m = claude.messages.create(model="gemini", max_tokens=100, system="Be brief.",
                               messages=[{"role": "user", "content": "Say hi"}])
    assert m.type == "message" and m.role == "assistant", m
    assert m.content[0].text == MOCK_TEXT, m
    assert m.stop_reason == "end_turn", m
    assert m.usage.input_tokens == 10, m.usage
    assert m.usage.output_tokens == 12, m.usage


@check
def anthropic_stream():
    with claude.messages.stream(model="gemini", max_tokens=100,
                                messages=[{"role": "user", "content": "Say hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == MOCK_TEXT, text
    assert final.stop_reason == "end_turn", final
    assert final.usage.output_tokens == 12, final.usage


@check
def anthropic_tools_round_trip():
    messages = [{"role": "user", "content": "call: Rome"}]
    m = claude.messages.create(model="gemini", max_tokens=100, tools=CLAUDE_TOOLS,
                               messages=messages)
    assert m.stop_reason == "tool_use", m
    uses = [b for b in m.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather", m
    assert uses[0].input == {"text": "Rome"}, m
    messages.append({"role": "assistant", "content": [b.model_dump() for b in m.content]})
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny"}]})
    m = claude.messages.create(model="gemini", max_tokens=100, tools=CLAUDE_TOOLS,
                               messages=messages)
    assert m.content[0].text == "results for get_weather", m


@check
def anthropic_streamed_tool_use():
    with claude.messages.stream(model="gemini", max_tokens=100, tools=CLAUDE_TOOLS,
                                messages=[{"role": "user", "content": "call: Oslo"}]) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use", final
    uses = [b for b in final.content if b.type == "tool_use"]
    assert uses and uses[0].input == {"text": "Oslo"}, final


def main():
    print(f"openai {openai.__version__}, anthropic {anthropic.__version__} against {BASE_URL} (gemini target)")
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL  {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"gemini_sdks.py: {len(CHECKS)} checks, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
