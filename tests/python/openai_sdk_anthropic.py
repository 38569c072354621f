"""The official OpenAI Python SDK against a gateway model served by an Anthropic target.

Environment:
  TOLLGATE_BASE_URL     the gateway's OpenAI base URL, http://127.0.0.1:PORT/v1
  TOLLGATE_KEY          a virtual key allowed the `claude` model
  TOLLGATE_MOCK_TEXT    the mock provider's default reply

Every check runs; the script prints one line per check and exits 1 if any failed.
"""

import os
import sys
import traceback

import openai
from openai import OpenAI

BASE_URL = os.environ["TOLLGATE_BASE_URL"]
KEY = os.environ["TOLLGATE_KEY"]
MOCK_TEXT = os.environ["TOLLGATE_MOCK_TEXT"]

client = OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20.0)

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "echo: hello from the sdk"},
]


@check
def chat_non_stream():
    r = client.chat.completions.create(model="claude", messages=MESSAGES)
    assert r.object == "chat.completion", r
    assert r.choices[0].message.role == "assistant", r
    assert r.choices[0].message.content == "hello from the sdk", r
    assert r.choices[0].finish_reason == "stop", r
    assert r.usage.prompt_tokens == 5 + 8, r.usage
    assert r.usage.completion_tokens == 4, r.usage


@check
def chat_stream():
    stream = client.chat.completions.create(model="claude", messages=MESSAGES, stream=True)
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert text == "hello from the sdk", text
    assert finish == "stop", finish
    assert usage is None, usage


@check
def chat_stream_with_usage():
    stream = client.chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": "Say hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
    assert text == MOCK_TEXT, text
    assert usage is not None and usage.prompt_tokens == 5, usage
    assert usage.completion_tokens == 10, usage


def main():
    print(f"openai {openai.__version__} against {BASE_URL} (anthropic target)")
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL  {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"openai_sdk_anthropic.py: {len(CHECKS)} checks, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
