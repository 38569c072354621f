"""The official OpenAI and Anthropic Python SDKs against a gateway model served by a Bedrock
target (the mock's Converse / ConverseStream endpoints, SigV4-checked).

Environment:
  TOLLGATE_BASE_URL     the gateway's root URL, http://127.0.0.1:PORT
  TOLLGATE_KEY          a virtual key allowed the `nova` model

Every check runs; the script prints one line per check and exits 1 if any failed.
"""

import json
import os
import sys
import traceback

import anthropic
import openai
from anthropic import Anthropic
from openai import OpenAI

ROOT = os.environ["TOLLGATE_BASE_URL"]
KEY = os.environ["TOLLGATE_KEY"]
MODEL = "nova"

oai = OpenAI(base_url=ROOT + "/v1", api_key=KEY, max_retries=0, timeout=20.0)
claude = Anthropic(base_url=ROOT, api_key=KEY, max_retries=0, timeout=20.0)

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "echo: hello from the sdk"},
]
TOOLS = [
    {"type": "function", "function": {"name": name, "description": "Look something up",
     "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}}
    for name in ("get_weather", "get_time")
]


@check
def openai_text():
    r = oai.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert r.object == "chat.completion", r
    assert r.choices[0].message.content == "hello from the sdk", r
    assert r.choices[0].finish_reason == "stop", r
    # (3 + 2) system + (3 + 5) user; 4 words out.
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (13, 4, 17), r.usage


@check
def openai_stream_with_usage():
    stream = oai.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert text == "hello from the sdk", text
    assert finish == "stop", finish
    assert usage is not None and usage.prompt_tokens == 13 and usage.completion_tokens == 4, usage


@check
def openai_stream_without_usage():
    chunks = list(oai.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks), chunks[-1]
    assert chunks[-1].choices[0].finish_reason == "stop", chunks[-1]


@check
def openai_max_tokens_is_length():
    r = oai.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2)
    assert r.choices[0].message.content == "hello from", r
    assert r.choices[0].finish_reason == "length", r


def ask_tools():
    return [{"role": "user", "content": "call: Paris"}]


@check
def openai_parallel_tool_calls():
    r = oai.chat.completions.create(model=MODEL, messages=ask_tools(), tools=TOOLS, tool_choice="required")
    calls = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls", r
    assert [c.function.name for c in calls] == ["get_weather", "get_time"], calls
    assert all(json.loads(c.function.arguments) == {"text": "Paris"} for c in calls), calls
    assert calls[0].id != calls[1].id and calls[0].id.startswith("tooluse_"), calls


@check
def openai_streamed_tool_calls():
    stream = oai.chat.completions.create(model=MODEL, messages=ask_tools(), tools=TOOLS, stream=True)
    calls, finish = {}, None
    for chunk in stream:
        for c in chunk.choices:
            finish = c.finish_reason or finish
            for d in c.delta.tool_calls or []:
                slot = calls.setdefault(d.index, {"id": None, "name": None, "args": ""})
                slot["id"] = d.id or slot["id"]
                slot["name"] = (d.function.name if d.function else None) or slot["name"]
                slot["args"] += (d.function.arguments if d.function else "") or ""
    assert finish == "tool_calls", finish
    assert sorted(calls) == [0, 1], calls
    assert [calls[i]["name"] for i in (0, 1)] == ["get_weather", "get_time"], calls
    assert all(json.loads(calls[i]["args"]) == {"text": "Paris"} for i in (0, 1)), calls


@check
def openai_tool_results_round_trip():
    first = oai.chat.completions.create(model=MODEL, messages=ask_tools(), tools=TOOLS)
    msg = first.choices[0].message
    history = ask_tools() + [msg.model_dump(exclude_none=True)]
    history.append({"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": '{"temp_c": 18}'})
    history.append({"role": "tool", "tool_call_id": msg.tool_calls[1].id, "content": "noon"})
    r = oai.chat.completions.create(model=MODEL, messages=history, tools=TOOLS)
    assert r.choices[0].message.content == 'results: {"temp_c":18} | noon', r
    assert r.choices[0].finish_reason == "stop", r


@check
def openai_error_mid_stream():
    stream = oai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "fail: slow down"}], stream=True
    )
    try:
        for _ in stream:
            pass
    except openai.APIError as e:
        assert "slow down" in str(e), e
    else:
        raise AssertionError("no error raised for a throttled stream")


@check
def anthropic_text():
    m = claude.messages.create(
        model=MODEL, max_tokens=100, system="Be brief.",
        messages=[{"role": "user", "content": "echo: hello from claude"}],
    )
    assert m.type == "message" and m.role == "assistant", m
    assert m.content[0].type == "text" and m.content[0].text == "hello from claude", m
    assert m.stop_reason == "end_turn", m
    # (3 + 2) system + (3 + 4) user; 3 words out.
    assert (m.usage.input_tokens, m.usage.output_tokens) == (12, 3), m.usage


@check
def anthropic_stream():
    with claude.messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "echo: streamed to claude"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "streamed to claude", text
    assert final.stop_reason == "end_turn", final
    assert final.usage.output_tokens == 3, final.usage


@check
def anthropic_tools_round_trip():
    tools = [{"name": t["function"]["name"], "description": "Look something up",
              "input_schema": t["function"]["parameters"]} for t in TOOLS]
    first = claude.messages.create(
        model=MODEL, max_tokens=100, tools=tools, messages=[{"role": "user", "content": "call: Tokyo"}]
    )
    uses = [b for b in first.content if b.type == "tool_use"]
    assert first.stop_reason == "tool_use", first
    assert [u.name for u in uses] == ["get_weather", "get_time"], uses
    assert uses[0].input == {"text": "Tokyo"}, uses
    second = claude.messages.create(
        model=MODEL, max_tokens=100, tools=tools,
        messages=[
            {"role": "user", "content": "call: Tokyo"},
            {"role": "assistant", "content": [u.model_dump() for u in uses]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": uses[0].id, "content": "rain"},
                {"type": "tool_result", "tool_use_id": uses[1].id, "content": "night"},
            ]},
        ],
    )
    assert second.content[0].text == "results: rain | night", second


def main():
    print(f"openai {openai.__version__}, anthropic {anthropic.__version__} against {ROOT} (bedrock target)")
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL  {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"bedrock_sdks.py: {len(CHECKS)} checks, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
