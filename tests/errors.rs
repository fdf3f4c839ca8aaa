//! Bad input: each gets a 4xx with a JSON reason, and the node keeps serving.

use serde_json::Value;

use crate::support::*;

fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        !body["error"]["message"].as_str().unwrap_or("").is_empty(),
        "{body}"
    );
    assert_eq!(body["error"]["retryable"], false, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uploads_and_requests_get_json_reasons() {
    let dir = temp_dir();
    let node = Node::start(
        dir.path(),
        "[limits]\nworkers = 1\nmax_module_bytes = 65536\n",
    );
    let fib = node.plugin_id(&plugin("fibonacci")).await;

    let (status, body) = node.upload(b"definitely not wasm").await;
    assert_error(status, &body, 400, "invalid_module");
    let (status, body) = node.upload(b"").await;
    assert_error(status, &body, 400, "invalid_module");
    let (status, body) = node.upload(&fixture("wasi_import")).await;
    assert_error(status, &body, 400, "unsupported_import");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wasi_snapshot_preview1"),
        "{body}"
    );
    let (status, body) = node.upload(&fixture("no_main")).await;
    assert_error(status, &body, 400, "missing_export");
    let (status, body) = node.upload(&vec![0u8; 65537]).await;
    assert_error(status, &body, 413, "payload_too_large");
    // Floats and SIMD are never proven: refused at upload, every construct named.
    let simd = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "main") (drop (i32x4.add (v128.const i64x2 0 0) (v128.const i64x2 0 0)))))"#,
    )
    .unwrap();
    for (module, names) in [
        (simd, &["i32x4.add", "v128.const"][..]),
        (
            fixture("float_sqrt"),
            &["f64.sqrt", "f64.convert_i32_u", "i32.trunc_f64_u"],
        ),
    ] {
        let (status, body) = node.upload(&module).await;
        assert_error(status, &body, 400, "unsupported_feature");
        let message = body["error"]["message"].as_str().unwrap();
        for name in names {
            assert!(message.contains(name), "{name}: {body}");
        }
    }

    let (status, body) = node.submit(&"0".repeat(64), &[1]).await;
    assert_error(status, &body, 404, "plugin_not_found");
    let (status, body) = node.get("/plugins/0000").await;
    assert_error(status, &body, 404, "plugin_not_found");
    let (status, body) = node.get("/jobs/not-a-uuid").await;
    assert_error(status, &body, 400, "invalid_id");
    let (status, body) = node.get("/jobs/01900000-0000-7000-8000-000000000000").await;
    assert_error(status, &body, 404, "job_not_found");
    let (status, body) = node.get("/nowhere").await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = node.get("/jobs?limit=0").await;
    assert_error(status, &body, 400, "invalid_query");

    let raw = |body: &'static str| {
        let url = node.url("/jobs");
        async move {
            let response = client()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = raw("{\"plugin\": ").await;
    assert_error(status, &body, 400, "malformed_json");
    let (status, body) = raw("{\"plugin\": 5}").await;
    assert_error(status, &body, 422, "invalid_request");
    let (status, body) = raw(r#"{"plugin": "ab", "input": [-1]}"#).await;
    assert_error(status, &body, 422, "invalid_request");
    let (status, body) = raw(r#"{"plugin": "ab", "input": [4294967296]}"#).await;
    assert_error(status, &body, 422, "invalid_request");
    let response = client()
        .post(node.url("/jobs"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "unsupported_media_type"
    );
    let response = client().delete(node.url("/jobs")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);

    // Still serving, nothing lost.
    let id = node.job_id(&fib, &[12]).await;
    assert_eq!(node.output(&id).await, vec![144]);
    let (_, plugins) = node.get("/plugins").await;
    assert_eq!(plugins.as_array().unwrap().len(), 1);
}
