//! Gemini `generateContent` shapes (providers.md §4.2–§4.5): requests written in lowerCamelCase,
//! answers read leniently (unknown fields ignored, optional fields defaulted, the snake_case
//! proto3 spellings accepted too).
//!
//! Owns: field names and serde attributes only. Must not: hold translation logic.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST …:generateContent` / `:streamGenerateContent` body.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub contents: Vec<Content>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    pub generation_config: GenerationConfig,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Content {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    pub parts: Vec<Part>,
}

/// A request part: exactly one data field set.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Blob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_response: Option<FunctionResponse>,
    /// Echoed on the function call it came with (Gemini 2.5/3 require it back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    pub mime_type: String,
    pub data: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    pub file_uri: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionCall {
    pub name: String,
    pub args: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionResponse {
    pub name: String,
    pub response: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub function_declarations: Vec<FunctionDeclaration>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionDeclaration {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    pub function_calling_config: FunctionCallingConfig,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<Value>,
}

impl GenerationConfig {
    pub fn is_empty(&self) -> bool {
        *self == GenerationConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

/// `GenerateContentResponse`: a whole answer, or one stream chunk (new parts only).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    #[serde(default, alias = "prompt_feedback")]
    pub prompt_feedback: Option<PromptFeedback>,
    #[serde(default, alias = "usage_metadata")]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default, alias = "model_version")]
    pub model_version: Option<String>,
    #[serde(default, alias = "response_id")]
    pub response_id: Option<String>,
    /// A mid-stream error sent as a data event.
    #[serde(default)]
    pub error: Option<Status>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    #[serde(default)]
    pub content: Option<ContentIn>,
    #[serde(default, alias = "finish_reason")]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub index: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContentIn {
    #[serde(default)]
    pub parts: Vec<PartIn>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartIn {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub thought: Option<bool>,
    #[serde(default, alias = "function_call")]
    pub function_call: Option<FunctionCallIn>,
    #[serde(default, alias = "thought_signature")]
    pub thought_signature: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FunctionCallIn {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub args: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    #[serde(default, alias = "block_reason")]
    pub block_reason: Option<String>,
    #[serde(default, alias = "block_reason_message")]
    pub block_reason_message: Option<String>,
}

/// Counts as Gemini reports them (cumulative in streams: the last value wins).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default, alias = "prompt_token_count")]
    pub prompt_token_count: Option<u64>,
    #[serde(default, alias = "candidates_token_count")]
    pub candidates_token_count: Option<u64>,
    #[serde(default, alias = "total_token_count")]
    pub total_token_count: Option<u64>,
    #[serde(default, alias = "cached_content_token_count")]
    pub cached_content_token_count: Option<u64>,
    #[serde(default, alias = "thoughts_token_count")]
    pub thoughts_token_count: Option<u64>,
    #[serde(default, alias = "tool_use_prompt_token_count")]
    pub tool_use_prompt_token_count: Option<u64>,
}

/// `{"error": Status}`, Google's RPC error (providers.md §4.5).
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    pub error: Status,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Embeddings

/// `POST …:batchEmbedContents` body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatchEmbedRequest {
    pub requests: Vec<EmbedRequest>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EmbedRequest {
    /// `models/{model}`, the same model as the URL's.
    pub model: String,
    pub content: Content,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dimensionality: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BatchEmbedResponse {
    #[serde(default)]
    pub embeddings: Vec<Embedding>,
    #[serde(default, alias = "usageMetadata")]
    pub usage_metadata: Option<UsageMetadata>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Embedding {
    #[serde(default)]
    pub values: Vec<f64>,
}
