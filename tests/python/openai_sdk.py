"""The official OpenAI Python SDK against a running tollgate gateway.

Run by tests/sdk_openai.rs (`cargo test --test sdk_openai`), which starts the mock provider and
the gateway and passes:

  TOLLGATE_BASE_URL     the gateway's OpenAI base URL, http://127.0.0.1:PORT/v1
  TOLLGATE_KEY          a virtual key allowed every model
  TOLLGATE_LIMITED_KEY  a virtual key allowed only the `demo` model
  TOLLGATE_MOCK_TEXT    the upstream mock provider's default reply

Models: `gpt-4o` (mock provider upstream), `demo` (built-in mock), `text-embedding-3-small`
(upstream), `dead` (connection refused). Every check runs; the script prints one line per check
and exits 1 if any failed.
"""

import os
import sys
import traceback

import openai
from openai import OpenAI

BASE_URL = os.environ["TOLLGATE_BASE_URL"]
KEY = os.environ["TOLLGATE_KEY"]
LIMITED_KEY = os.environ["TOLLGATE_LIMITED_KEY"]
MOCK_TEXT = os.environ["TOLLGATE_MOCK_TEXT"]

client = OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0, timeout=20.0)

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def expect_error(exc_type, status, code, fn, param=None):
    try:
        fn()
    except exc_type as e:
        assert e.status_code == status, f"status {e.status_code} != {status}: {e}"
        assert e.code == code, f"code {e.code!r} != {code!r}: {e.body}"
        if param is not None:
            assert e.param == param, f"param {e.param!r} != {param!r}: {e.body}"
        return e
    except openai.APIError as e:
        raise AssertionError(f"expected {exc_type.__name__}, got {type(e).__name__}: {e}")
    raise AssertionError(f"expected {exc_type.__name__}, got a success")


def user(text):
    return [{"role": "user", "content": text}]


@check
def chat_non_stream_upstream():
    r = client.chat.completions.create(model="gpt-4o", messages=user("echo: hello from the sdk"))
    assert r.object == "chat.completion", r
    assert r.choices[0].message.role == "assistant", r
    assert r.choices[0].message.content == "hello from the sdk", r
    assert r.choices[0].finish_reason == "stop", r
    # mock usage: prompt = 3 + 5 words, completion = 4 words
    assert r.usage.prompt_tokens == 8, r.usage
    assert r.usage.completion_tokens == 4, r.usage
    assert r.usage.total_tokens == 12, r.usage


@check
def chat_non_stream_default_reply_and_extra_body():
    r = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}],
        temperature=0.2,
        max_tokens=50,
        extra_body={"x_tollgate_test": {"passthrough": True}},
    )
    assert r.choices[0].message.content == MOCK_TEXT, r
    assert r.usage.prompt_tokens == 10, r.usage
    assert r.usage.completion_tokens == len(MOCK_TEXT.split()), r.usage


@check
def chat_max_tokens_finish_length():
    r = client.chat.completions.create(model="gpt-4o", messages=user("hi"), max_tokens=3)
    assert r.choices[0].message.content == " ".join(MOCK_TEXT.split()[:3]), r
    assert r.choices[0].finish_reason == "length", r


def collect_stream(model, **kwargs):
    stream = client.chat.completions.create(model=model, messages=user("Tell me"), stream=True, **kwargs)
    text, finish, usage, chunks = [], [], [], 0
    for chunk in stream:
        chunks += 1
        assert chunk.object == "chat.completion.chunk", chunk
        if chunk.usage is not None:
            usage.append(chunk.usage)
        for choice in chunk.choices:
            if choice.delta.content:
                text.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish.append(choice.finish_reason)
    return "".join(text), finish, usage, chunks


@check
def chat_stream_upstream():
    text, finish, usage, chunks = collect_stream("gpt-4o")
    assert text == MOCK_TEXT, repr(text)
    assert finish == ["stop"], finish
    assert usage == [], usage
    assert chunks >= len(MOCK_TEXT.split()), chunks


@check
def chat_stream_upstream_with_usage():
    text, finish, usage, _ = collect_stream("gpt-4o", stream_options={"include_usage": True})
    assert text == MOCK_TEXT, repr(text)
    assert finish == ["stop"], finish
    assert len(usage) == 1, usage
    u = usage[0]
    assert u.completion_tokens == len(MOCK_TEXT.split()), u
    assert u.prompt_tokens == 3 + 2, u
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u


@check
def chat_demo_non_stream():
    r = client.chat.completions.create(model="demo", messages=user("Hello demo"))
    assert r.choices[0].message.content, r
    assert r.choices[0].finish_reason in ("stop", "length"), r
    u = r.usage
    assert u.prompt_tokens > 0 and u.completion_tokens > 0, u
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u


@check
def chat_demo_stream_with_usage():
    text, finish, usage, _ = collect_stream("demo", stream_options={"include_usage": True})
    assert text, "empty demo stream"
    assert len(finish) == 1 and finish[0] in ("stop", "length"), finish
    assert len(usage) == 1, usage
    u = usage[0]
    assert u.completion_tokens > 0, u
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u
    again = client.chat.completions.create(model="demo", messages=user("Tell me"))
    assert again.choices[0].message.content == text, (again, text)


@check
def limited_key_uses_demo():
    limited = OpenAI(base_url=BASE_URL, api_key=LIMITED_KEY, max_retries=0, timeout=20.0)
    r = limited.chat.completions.create(model="demo", messages=user("hi"))
    assert r.choices[0].message.content, r


@check
def embeddings_upstream():
    r = client.embeddings.create(model="text-embedding-3-small", input=["one two", "three"])
    assert len(r.data) == 2, r
    assert [d.index for d in r.data] == [0, 1], r
    assert all(len(d.embedding) == 8 for d in r.data), r
    assert r.usage.prompt_tokens == 3, r.usage
    # The SDK asks for base64 unless told otherwise and decodes it to floats.
    assert all(isinstance(x, float) for x in r.data[0].embedding), r


@check
def embeddings_demo():
    r = client.embeddings.create(model="demo", input="hello")
    assert len(r.data) == 1 and len(r.data[0].embedding) > 0, r


@check
def models_list_and_retrieve():
    ids = sorted(m.id for m in client.models.list())
    assert ids == ["dead", "demo", "gpt-4o", "text-embedding-3-small"], ids
    m = client.models.retrieve("gpt-4o")
    assert m.id == "gpt-4o" and m.owned_by == "tollgate", m
    expect_error(openai.NotFoundError, 404, "model_not_found", lambda: client.models.retrieve("nope-model"))


@check
def error_bad_key():
    bad = OpenAI(base_url=BASE_URL, api_key="sk-not-a-key", max_retries=0, timeout=20.0)
    expect_error(
        openai.AuthenticationError, 401, "invalid_api_key",
        lambda: bad.chat.completions.create(model="gpt-4o", messages=user("hi")),
    )


@check
def error_model_not_allowed():
    limited = OpenAI(base_url=BASE_URL, api_key=LIMITED_KEY, max_retries=0, timeout=20.0)
    expect_error(
        openai.PermissionDeniedError, 403, "model_not_allowed",
        lambda: limited.chat.completions.create(model="gpt-4o", messages=user("hi")),
    )


@check
def error_unknown_model():
    expect_error(
        openai.NotFoundError, 404, "model_not_found",
        lambda: client.chat.completions.create(model="no-such-model", messages=user("hi")),
        param="model",
    )
    expect_error(
        openai.NotFoundError, 404, "model_not_found",
        lambda: client.chat.completions.create(model="no-such-model", messages=user("hi"), stream=True),
    )


@check
def error_missing_messages():
    # The typed method cannot omit `messages`: use the SDK's generic POST.
    expect_error(
        openai.BadRequestError, 400, "missing_required_parameter",
        lambda: client.post("/chat/completions", cast_to=dict, body={"model": "gpt-4o"}),
        param="messages",
    )


@check
def error_upstream_unreachable():
    expect_error(
        openai.InternalServerError, 502, "upstream_unreachable",
        lambda: client.chat.completions.create(model="dead", messages=user("hi")),
    )


def main():
    print(f"openai {openai.__version__} against {BASE_URL}")
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL  {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"openai_sdk.py: {len(CHECKS)} checks, {failed} failing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
