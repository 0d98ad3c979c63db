//! The MCP tools through real rmcp client sessions: streamable HTTP against
//! the server's `/mcp` (with API key bindings) and stdio against `memory mcp`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ServiceExt, transport::TokioChildProcess};
use serde_json::{Value, json};

type Client = RunningService<RoleClient, ClientConfig>;

mod common;

async fn start_mcp() -> String {
    let keys = [
        common::key("ktenant", "t", None),
        common::key("kalice", "t", Some("alice")),
    ];
    format!("{}/mcp", common::start(&keys, common::roomy()).await)
}

async fn connect(url: &str, key: Option<&str>) -> Result<Client, String> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(k) = key {
        config = config.auth_header(k);
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    ClientConfig::default()
        .serve(transport)
        .await
        .map_err(|e| e.to_string())
}

/// Calls a tool; `Ok` with its structured result, `Err` with its error text.
async fn tool(client: &Client, name: &str, args: Value) -> Result<Value, String> {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    let result = client
        .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
        .await
        .map_err(|e| e.to_string())?;
    let text = || {
        result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if result.is_error == Some(true) {
        return Err(text());
    }
    Ok(result
        .structured_content
        .clone()
        .unwrap_or_else(|| serde_json::from_str(&text()).unwrap()))
}

/// The seven tools, end to end, on one client session.
async fn exercise(client: &Client) {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "add_memory",
            "delete_memory",
            "extract_session",
            "get_context",
            "list_memories",
            "memory_stats",
            "search_memory"
        ]
    );
    let added = tool(
        client,
        "add_memory",
        json!({"content": "alice drinks green tea every morning", "user_id": "alice", "kind": "preference"}),
    )
    .await
    .unwrap();
    assert_eq!(added["event"], "added");
    let id = added["id"].as_str().unwrap().to_owned();
    tool(
        client,
        "add_memory",
        json!({"content": "alice works as a nurse in Lyon", "user_id": "alice"}),
    )
    .await
    .unwrap();

    let found = tool(
        client,
        "search_memory",
        json!({"query": "green tea morning", "user_id": "alice", "k": 1}),
    )
    .await
    .unwrap();
    assert_eq!(found["hits"][0]["memory"]["id"], id.as_str(), "{found}");

    let listed = tool(
        client,
        "list_memories",
        json!({"user_id": "alice", "filter": {"kind": "preference"}}),
    )
    .await
    .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    let ctx = tool(
        client,
        "get_context",
        json!({"session_id": "s1", "user_id": "alice", "query": "what does alice drink"}),
    )
    .await
    .unwrap();
    assert!(ctx["text"].as_str().unwrap().contains("green tea"), "{ctx}");

    // A superseding add keeps the old memory out of default searches only.
    let moved = tool(
        client,
        "add_memory",
        json!({"content": "alice works as a nurse in Paris", "user_id": "alice",
               "supersedes": listed_id(client, "nurse in Lyon").await}),
    )
    .await
    .unwrap();
    assert_eq!(moved["event"], "added", "{moved}");
    let now = tool(
        client,
        "search_memory",
        json!({"query": "nurse", "user_id": "alice", "mode": "keyword"}),
    )
    .await
    .unwrap();
    assert_eq!(now["hits"].as_array().unwrap().len(), 1, "{now}");
    let all = tool(
        client,
        "search_memory",
        json!({"query": "nurse", "user_id": "alice", "mode": "keyword", "include_superseded": true}),
    )
    .await
    .unwrap();
    assert_eq!(all["hits"].as_array().unwrap().len(), 2, "{all}");
    let stats = tool(client, "memory_stats", json!({"user_id": "alice"}))
        .await
        .unwrap();
    assert_eq!(
        (&stats["memories"], &stats["superseded"]),
        (&json!(2), &json!(1)),
        "{stats}"
    );
    // This engine has no language model: extraction is refused by name.
    let no_model = tool(client, "extract_session", json!({"session_id": "s1"}))
        .await
        .unwrap_err();
    assert!(no_model.contains("language_model"), "{no_model}");

    let bad = tool(
        client,
        "add_memory",
        json!({"content": "  ", "user_id": "alice"}),
    )
    .await
    .unwrap_err();
    assert!(bad.contains("content"), "{bad}");

    tool(client, "delete_memory", json!({"id": id}))
        .await
        .unwrap();
    let gone = tool(client, "delete_memory", json!({"id": id}))
        .await
        .unwrap_err();
    assert!(gone.contains("not found"), "{gone}");
    let left = tool(client, "list_memories", json!({"user_id": "alice"}))
        .await
        .unwrap();
    assert_eq!(left["items"].as_array().unwrap().len(), 1);
}

/// The id of alice's current memory containing `text`.
async fn listed_id(client: &Client, text: &str) -> String {
    let listed = tool(client, "list_memories", json!({"user_id": "alice"}))
        .await
        .unwrap();
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["content"].as_str().unwrap().contains(text))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_tools_work_end_to_end() {
    let url = start_mcp().await;
    let client = connect(&url, Some("ktenant")).await.unwrap();
    exercise(&client).await;
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_keys_bind_the_tools() {
    let url = start_mcp().await;
    assert!(connect(&url, None).await.is_err(), "no key was admitted");
    assert!(
        connect(&url, Some("nope")).await.is_err(),
        "a bad key was admitted"
    );

    let tenant = connect(&url, Some("ktenant")).await.unwrap();
    let alice = connect(&url, Some("kalice")).await.unwrap();
    let bobs = tool(
        &tenant,
        "add_memory",
        json!({"content": "bob keeps bees on his roof", "user_id": "bob"}),
    )
    .await
    .unwrap();
    let bob_id = bobs["id"].as_str().unwrap();

    // Alice's key can neither name bob nor reach his memories by id or search.
    let e = tool(
        &alice,
        "add_memory",
        json!({"content": "planted by alice", "user_id": "bob"}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("bound to another user"), "{e}");
    let e = tool(&alice, "delete_memory", json!({"id": bob_id}))
        .await
        .unwrap_err();
    assert!(e.contains("not found"), "{e}");
    let hits = tool(
        &alice,
        "search_memory",
        json!({"query": "bees on the roof"}),
    )
    .await
    .unwrap();
    assert_eq!(hits["hits"].as_array().unwrap().len(), 0, "{hits}");
    let mine = tool(
        &alice,
        "add_memory",
        json!({"content": "alice sings in a choir"}),
    )
    .await
    .unwrap();
    assert_eq!(mine["event"], "added");
    let listed = tool(&tenant, "list_memories", json!({"user_id": "alice"}))
        .await
        .unwrap();
    assert_eq!(
        listed["items"][0]["scope"]["user_id"], "alice",
        "an unnamed user on a bound key is the bound user: {listed}"
    );
    // Bob's memory is still there.
    let bob = tool(&tenant, "list_memories", json!({"user_id": "bob"}))
        .await
        .unwrap();
    assert_eq!(bob["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_tools_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_memory"));
    for name in memory::CONFIG_ENV {
        cmd.env_remove(name);
    }
    cmd.current_dir(dir.path()).args([
        "--db",
        &format!("sqlite://{}/mcp.db", dir.path().display()),
        "mcp",
    ]);
    let client = ClientConfig::default()
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap();
    exercise(&client).await;
    client.cancel().await.unwrap();
}
