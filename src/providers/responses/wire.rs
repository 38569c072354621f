//! Typed wire shapes of the Responses codec (providers.md §1.4): the `POST /v1/responses`
//! request as clients send it (read leniently), the chat-completions request written for the
//! pipeline, and the Responses object, items and stream events written back.
//!
//! Owns: field names and serde attributes only. Must not: hold translation logic.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Read: the client's Responses request

/// A Responses request. Fields the translation does not handle land in `rest`, so the
/// translator can refuse them by name instead of dropping them.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestIn {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub input: Option<Input>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub text: Option<TextIn>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub store: Option<bool>,
    #[serde(default)]
    pub background: Option<bool>,
    #[serde(default)]
    pub truncation: Option<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `input`: a user message as a string, or a list of items (read one by one, so errors can
/// name `input[i]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<Value>),
}

/// `text`: the output format and verbosity.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextIn {
    #[serde(default)]
    pub format: Option<FormatIn>,
    #[serde(default)]
    pub verbosity: Option<String>,
}

/// `text.format` (flat: no nested `json_schema` object, unlike chat).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FormatIn {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        strict: Option<bool>,
    },
}

/// A flat function tool (`name`, `parameters` at the top level, not under `function`).
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionToolIn {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

/// A message item (`type: "message"` or no type with a `role`).
#[derive(Debug, Clone, Deserialize)]
pub struct MessageIn {
    pub role: String,
    pub content: ContentIn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ContentIn {
    Text(String),
    Parts(Vec<Value>),
}

/// `input_image`: a URL or data URL (a `file_id` cannot be resolved off OpenAI).
#[derive(Debug, Clone, Deserialize)]
pub struct ImageIn {
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub file_id: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// A `function_call` item echoed back from an earlier answer.
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionCallIn {
    pub call_id: String,
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// A `function_call_output` item: the client's result for a call.
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionCallOutputIn {
    pub call_id: String,
    pub output: ContentIn,
}

// ---------------------------------------------------------------------------------------------
// Write: the chat-completions request for the pipeline

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChatOut {
    pub model: String,
    pub messages: Vec<ChatMessageOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ChatToolOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Chat fields with the same name and meaning (`safety_identifier`, `service_tier`,
    /// `prompt_cache_key`), passed on as sent.
    #[serde(flatten)]
    pub same: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessageOut {
    System {
        content: String,
    },
    User {
        content: ChatContentOut,
    },
    Assistant {
        content: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCallOut>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ChatContentOut {
    Text(String),
    Parts(Vec<ChatPartOut>),
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatPartOut {
    Text { text: String },
    ImageUrl { image_url: ImageUrlOut },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageUrlOut {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolCallOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCallOut,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionCallOut {
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChatToolOut {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionDefOut,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionDefOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Write: the Responses object, its items and the stream events

/// The request parameters a Response object repeats (the SDKs read some of them back).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Echo {
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u64>,
    pub parallel_tool_calls: bool,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub tool_choice: Value,
    pub tools: Value,
    pub text: Value,
    pub metadata: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Always false: translated answers are not stored (no `previous_response_id` later).
    pub store: bool,
    pub background: bool,
    pub truncation: &'static str,
    pub previous_response_id: Option<String>,
    pub reasoning: Option<Value>,
}

impl Default for Echo {
    fn default() -> Self {
        Echo {
            instructions: None,
            max_output_tokens: None,
            parallel_tool_calls: true,
            temperature: None,
            top_p: None,
            tool_choice: Value::String("auto".to_owned()),
            tools: Value::Array(Vec::new()),
            text: serde_json::json!({"format": {"type": "text"}}),
            metadata: Value::Object(Map::new()),
            user: None,
            store: false,
            background: false,
            truncation: "disabled",
            previous_response_id: None,
            reasoning: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResponseOut {
    pub id: String,
    pub object: &'static str,
    pub created_at: u64,
    pub status: &'static str,
    pub error: Option<ErrorOut>,
    pub incomplete_details: Option<IncompleteOut>,
    pub model: String,
    pub output: Vec<ItemOut>,
    pub usage: Option<UsageOut>,
    #[serde(flatten)]
    pub echo: Echo,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorOut {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IncompleteOut {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemOut {
    Message {
        id: String,
        role: &'static str,
        status: &'static str,
        content: Vec<PartOut>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        status: &'static str,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PartOut {
    OutputText {
        text: String,
        annotations: [(); 0],
        logprobs: [(); 0],
    },
    Refusal {
        refusal: String,
    },
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct UsageOut {
    pub input_tokens: u64,
    pub input_tokens_details: InputDetailsOut,
    pub output_tokens: u64,
    pub output_tokens_details: OutputDetailsOut,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct InputDetailsOut {
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct OutputDetailsOut {
    pub reasoning_tokens: u64,
}

/// One stream event (its `type` is the SSE `event:` name too).
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum EventOut<'a> {
    #[serde(rename = "response.created")]
    Created { response: &'a ResponseOut },
    #[serde(rename = "response.in_progress")]
    InProgress { response: &'a ResponseOut },
    #[serde(rename = "response.completed")]
    Completed { response: &'a ResponseOut },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: &'a ResponseOut },
    #[serde(rename = "response.failed")]
    Failed { response: &'a ResponseOut },
    #[serde(rename = "response.output_item.added")]
    ItemAdded {
        output_index: usize,
        item: &'a ItemOut,
    },
    #[serde(rename = "response.output_item.done")]
    ItemDone {
        output_index: usize,
        item: &'a ItemOut,
    },
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        part: &'a PartOut,
    },
    #[serde(rename = "response.content_part.done")]
    PartDone {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        part: &'a PartOut,
    },
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        delta: &'a str,
        logprobs: [(); 0],
    },
    #[serde(rename = "response.output_text.done")]
    TextDone {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        text: &'a str,
        logprobs: [(); 0],
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta {
        item_id: &'a str,
        output_index: usize,
        delta: &'a str,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone {
        item_id: &'a str,
        output_index: usize,
        name: &'a str,
        arguments: &'a str,
    },
    #[serde(rename = "error")]
    Error {
        code: &'a str,
        message: &'a str,
        param: Option<&'a str>,
    },
}

impl EventOut<'_> {
    /// The SSE `event:` name (equal to the JSON `type`).
    pub fn name(&self) -> &'static str {
        match self {
            EventOut::Created { .. } => "response.created",
            EventOut::InProgress { .. } => "response.in_progress",
            EventOut::Completed { .. } => "response.completed",
            EventOut::Incomplete { .. } => "response.incomplete",
            EventOut::Failed { .. } => "response.failed",
            EventOut::ItemAdded { .. } => "response.output_item.added",
            EventOut::ItemDone { .. } => "response.output_item.done",
            EventOut::PartAdded { .. } => "response.content_part.added",
            EventOut::PartDone { .. } => "response.content_part.done",
            EventOut::TextDelta { .. } => "response.output_text.delta",
            EventOut::TextDone { .. } => "response.output_text.done",
            EventOut::ArgumentsDelta { .. } => "response.function_call_arguments.delta",
            EventOut::ArgumentsDone { .. } => "response.function_call_arguments.done",
            EventOut::Error { .. } => "error",
        }
    }
}

/// An event with its `sequence_number`.
#[derive(Serialize)]
pub struct Sequenced<'a> {
    #[serde(flatten)]
    pub event: &'a EventOut<'a>,
    pub sequence_number: u64,
}
