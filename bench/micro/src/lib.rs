//! Inputs shared by the micro benchmarks (benches/micro.rs): realistic request bodies and
//! provider streams, built once. Must not: measure anything itself.

/// An OpenAI chat body with `turns` user/assistant pairs of about `words` words each.
pub fn chat_body(turns: usize, words: usize) -> Vec<u8> {
    let sentence: Vec<&str> =
        "the quick brown fox jumps over the lazy dog while the gateway counts tokens"
            .split(' ')
            .collect();
    let text = |n: usize| -> String {
        (0..n)
            .map(|i| sentence[i % sentence.len()])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut msgs = vec![format!(
        r#"{{"role":"system","content":"{}"}}"#,
        text(words / 2)
    )];
    for _ in 0..turns {
        msgs.push(format!(r#"{{"role":"user","content":"{}"}}"#, text(words)));
        msgs.push(format!(
            r#"{{"role":"assistant","content":"{}"}}"#,
            text(words)
        ));
    }
    format!(
        r#"{{"model":"gpt-4o","stream":true,"temperature":0.2,"messages":[{}]}}"#,
        msgs.join(",")
    )
    .into_bytes()
}

/// An OpenAI chat stream of `events` content chunks, a finish chunk, usage and `[DONE]`.
pub fn openai_stream(events: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..events {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":64,\"total_tokens\":74}}\n\n");
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

/// An Anthropic Messages stream of `events` text deltas (providers.md §3.4 event order).
pub fn anthropic_stream(events: usize) -> Vec<u8> {
    let mut s = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n\
         event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    );
    for i in 0..events {
        s.push_str(&format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n"
        ));
    }
    s.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
        event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":64}}\n\n\
        event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s.into_bytes()
}

/// Splits `data` into TCP-sized pieces, as a relay receives it.
pub fn pieces(data: &[u8], size: usize) -> Vec<&[u8]> {
    data.chunks(size).collect()
}
