//! The happy path over real HTTP: every plugin, checked against a Rust reference.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn every_plugin_computes_what_its_reference_computes() {
    let dir = temp_dir();
    let node = Node::start(dir.path(), DEFAULT_CONFIG);

    let fib = node.plugin_id(&plugin("fibonacci")).await;
    let sum = node.plugin_id(&plugin("sum-array")).await;
    let collatz_id = node.plugin_id(&plugin("collatz")).await;
    let sha = node.plugin_id(&plugin("sha256")).await;
    let mat = node.plugin_id(&plugin("matmul")).await;
    let keccak = node.plugin_id(&plugin("keccak256")).await;
    let json = node.plugin_id(&plugin("json-order")).await;
    let merkle = node.plugin_id(&plugin("merkle-proof")).await;
    let mlp_id = node.plugin_id(&plugin("mlp")).await;

    let mut cases: Vec<(String, Vec<u32>, Vec<u32>)> = Vec::new();
    for n in [0, 1, 2, 10, 47, 48, 1000, 100_000] {
        cases.push((fib.clone(), vec![n], vec![fibonacci(n)]));
    }
    let arrays: [&[u32]; 4] = [&[], &[7], &[1, 2, 3, u32::MAX], &[5; 1000]];
    for words in arrays {
        cases.push((sum.clone(), words.to_vec(), sum_array(words)));
    }
    for n in [1, 2, 27, 97, 871, 77_031, u32::MAX] {
        cases.push((collatz_id.clone(), vec![n], collatz(n)));
    }
    let messages: [&[u8]; 4] = [
        b"",
        b"abc",
        b"The quick brown fox jumps over the lazy dog",
        &[0xa5; 200],
    ];
    for message in messages {
        cases.push((
            sha.clone(),
            obelysk_guest::codec::pack_bytes(message),
            sha256(message),
        ));
    }

    let square = Matrix {
        rows: 2,
        cols: 2,
        data: vec![1, 2, 3, 4],
    };
    let wide = Matrix {
        rows: 2,
        cols: 3,
        data: vec![u32::MAX, 7, 0, 1 << 31, 5, 9],
    };
    let tall = Matrix {
        rows: 3,
        cols: 1,
        data: vec![3, 1 << 20, 11],
    };
    for (a, b) in [(&square, &square), (&square, &wide), (&wide, &tall)] {
        cases.push((mat.clone(), matmul_input(a, b), matmul(a, b)));
    }

    let keccak_messages: [&[u8]; 4] = [b"", b"abc", &[0x5a; 135], &[0x01; 137]];
    for message in keccak_messages {
        cases.push((
            keccak.clone(),
            obelysk_guest::codec::pack_bytes(message),
            keccak256(message),
        ));
    }
    // Ethereum's test vector: keccak256("") = c5d24601...
    assert_eq!(keccak256(b"")[0], 0xc5d2_4601);

    let orders = [
        r#"{"id": 42, "buyer": "alice", "paid": true, "items": [{"sku": 7, "qty": 2, "price": 1250}, {"sku": 9, "qty": 1, "price": 99}]}"#,
        // Any field order, unknown fields skipped, a u64 total past 2^32.
        r#"{"items":[{"price":4294967295,"qty":4294967295,"sku":1,"note":"bulk"}],"paid":false,"buyer":"","id":7}"#,
        r#"{"id": 1, "buyer": "bob", "paid": true, "items": []}"#,
        // Invalid: a missing field, a negative quantity, not JSON, too many items.
        r#"{"id": 1, "buyer": "bob", "items": []}"#,
        r#"{"id": 1, "buyer": "bob", "paid": true, "items": [{"sku": 1, "qty": -2, "price": 3}]}"#,
        r#"{"id": 1,"#,
    ];
    let too_many = format!(
        r#"{{"id": 1, "buyer": "b", "paid": true, "items": [{}]}}"#,
        vec![r#"{"sku": 1, "qty": 1, "price": 1}"#; 33].join(",")
    );
    for order in orders.iter().copied().chain([too_many.as_str()]) {
        cases.push((
            json.clone(),
            obelysk_guest::codec::pack_bytes(order.as_bytes()),
            json_order(order),
        ));
    }
    assert_eq!(json_order(orders[0]), [1, 42, 2, 2599, 0, 1, 0x8722_13e7]);
    assert_eq!(json_order(orders[3]), [0]);

    let leaves: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 1 + i as usize]).collect();
    for index in [0, 5, 7] {
        let proof = merkle_proof(&leaves, index);
        let root = proof.root;
        cases.push((
            merkle.clone(),
            merkle_input(&proof),
            merkle_output(true, &root),
        ));
        // A wrong leaf computes another root; a wrong index fails too.
        let mut forged = proof.clone();
        forged.leaf.push(0);
        let other = merkle_proof(
            &[
                &leaves[..index],
                &[forged.leaf.clone()][..],
                &leaves[index + 1..],
            ]
            .concat(),
            index,
        );
        cases.push((
            merkle.clone(),
            merkle_input(&forged),
            merkle_output(false, &other.root),
        ));
        let mut shifted = proof.clone();
        shifted.index += 8;
        cases.push((
            merkle.clone(),
            merkle_input(&shifted),
            merkle_output(false, &root),
        ));
    }

    for image in [
        disc_image(14, 14, 6, 255),
        disc_image(7, 20, 4, 128),
        vec![0; 784],
        vec![255; 784],
    ] {
        cases.push((
            mlp_id.clone(),
            obelysk_guest::codec::pack_bytes(&image),
            mlp(&image),
        ));
    }

    let mut ids = Vec::new();
    for (plugin, input, _) in &cases {
        ids.push(node.job_id(plugin, input).await);
    }
    for ((plugin, input, expected), id) in cases.iter().zip(&ids) {
        let job = node.wait(id).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(
            words(&job["output"]),
            *expected,
            "plugin {plugin} input {input:?}"
        );
        assert_eq!(job["plugin"], plugin.as_str());
        assert!(job["fuel_used"].as_u64().unwrap() > 0);
        for stamp in ["created_at", "started_at", "finished_at"] {
            assert!(job[stamp].is_string(), "{stamp} missing: {job}");
        }
        assert!(job["error"].is_null());
    }

    // A collatz of 0 traps inside the guest (its assert), with the wasm backtrace.
    let trap = node.job_id(&collatz_id, &[0]).await;
    let job = node.wait(&trap).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["error"]["code"], "trap");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{job}"
    );

    // Mismatched dimensions trap; so does a payload that is not postcard of two matrices.
    for input in [
        matmul_input(&tall, &wide),
        obelysk_guest::codec::pack_bytes(b"nope"),
    ] {
        let id = node.job_id(&mat, &input).await;
        assert_eq!(node.wait(&id).await["error"]["code"], "trap");
    }

    // Reading past the input traps with a clear message.
    let short = node.job_id(&fib, &[]).await;
    let job = node.wait(&short).await;
    assert_eq!(job["error"]["code"], "trap");
    assert!(
        job["error"]["message"]
            .as_str()
            .unwrap()
            .contains("out of range"),
        "{job}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_are_content_addressed_and_listed() {
    let dir = temp_dir();
    let node = Node::start(dir.path(), DEFAULT_CONFIG);
    let bytes = plugin("fibonacci");

    let (status, first) = node.upload(&bytes).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = node.upload(&bytes).await;
    assert_eq!(status, 200);
    assert_eq!(first, again);
    let id = first["id"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    assert_eq!(first["size"], bytes.len());
    let exports: Vec<&str> = first["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        exports.contains(&"main") && exports.contains(&"memory"),
        "{first}"
    );

    let (status, one) = node.get(&format!("/plugins/{id}")).await;
    assert_eq!((status, &one), (200, &first));
    let (_, list) = node.get("/plugins").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_page_newest_first() {
    let dir = temp_dir();
    let node = Node::start(dir.path(), DEFAULT_CONFIG);
    let fib = node.plugin_id(&plugin("fibonacci")).await;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(node.job_id(&fib, &[n]).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let path = match cursor {
            Some(c) => format!("/jobs?limit=3&cursor={c}"),
            None => "/jobs?limit=3".to_string(),
        };
        let (status, page) = node.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    for id in &ids {
        node.wait(id).await;
    }
    let (_, done) = node.get("/jobs?status=completed&limit=500").await;
    assert_eq!(done["jobs"].as_array().unwrap().len(), 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_gpu_metrics_and_openapi() {
    let dir = temp_dir();
    let node = Node::start(dir.path(), DEFAULT_CONFIG);

    let (status, health) = node.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["workers"], 2);

    let (status, gpu) = node.get("/gpu/status").await;
    assert_eq!(status, 200);
    let available = gpu["available"].as_bool().unwrap();
    assert_eq!(
        available,
        !gpu["devices"].as_array().unwrap().is_empty(),
        "{gpu}"
    );
    if !available {
        assert!(
            gpu["reason"].is_string(),
            "an unavailable GPU says why: {gpu}"
        );
    }
    // The default config proves on simd; the report says so, with the executors.
    assert_eq!(gpu["backend"], "simd", "{gpu}");
    assert!(gpu["executors"].as_u64().unwrap() >= 1, "{gpu}");
    assert_eq!(gpu["busy_executors"], 0, "{gpu}");

    let fib = node.plugin_id(&plugin("fibonacci")).await;
    let id = node.job_id(&fib, &[20]).await;
    node.output(&id).await;
    let metrics = node.metrics().await;
    assert!(
        metrics.contains("obelysk_jobs_submitted_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("obelysk_jobs_finished_total{outcome=\"completed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("obelysk_plugins_uploaded_total 1"),
        "{metrics}"
    );

    let (status, api) = node.get("/openapi.json").await;
    assert_eq!(status, 200);
    let description = api["info"]["description"].as_str().unwrap();
    for code in [
        "out_of_fuel",
        "queue_full",
        "trap",
        "timeout",
        "plugin_not_found",
    ] {
        assert!(
            description.contains(&format!("`{code}`")),
            "{code} missing from the catalogue"
        );
    }
    for path in [
        "/health",
        "/gpu/status",
        "/metrics",
        "/plugins",
        "/plugins/{id}",
        "/jobs",
        "/jobs/{id}",
    ] {
        assert!(
            api["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_report_what_the_vm_supports() {
    let dir = temp_dir();
    let node = Node::start(dir.path(), DEFAULT_CONFIG);

    // A stage-1 module lowers: the record carries its program id.
    let (status, stage1) = node.upload(&fixture("infinite_loop")).await;
    assert_eq!(status, 201, "{stage1}");
    assert_eq!(stage1["vm"]["supported"], true, "{stage1}");
    assert_eq!(stage1["vm"]["program_id"].as_str().unwrap().len(), 64);

    // A guest writing its table needs more than the VM has: every missing instruction is named.
    let (_, dynamic) = node.upload(&fixture("table_set")).await;
    assert_eq!(dynamic["vm"]["supported"], false, "{dynamic}");
    let missing = dynamic["vm"]["unsupported"].as_object().unwrap();
    assert!(
        missing.contains_key("table.set") && missing.contains_key("ref.func"),
        "{dynamic}"
    );
    assert!(dynamic["vm"]["program_id"].is_null());
    // It still runs in the sandbox, without a VM re-execution.
    let id = node.job_id(dynamic["id"].as_str().unwrap(), &[1000]).await;
    assert_eq!(node.output(&id).await, vec![1_000_000]);
    assert!(node.wait(&id).await["vm_steps"].is_null());

    // A module that lowers is re-executed by the VM, which must agree; its step count is kept.
    let sum = node.plugin_id(&fixture("sum_input")).await;
    let mut steps = Vec::new();
    for input in [vec![], vec![1, 2, 3], vec![u32::MAX; 100]] {
        let id = node.job_id(&sum, &input).await;
        let job = node.wait(&id).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(words(&job["output"]), sum_array(&input)[1..2]);
        steps.push(job["vm_steps"].as_u64().expect("VM steps recorded"));
    }
    assert!(
        steps[0] < steps[1] && steps[1] < steps[2],
        "steps grow with the input: {steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idempotency_keys_survive_restarts_and_catch_conflicts() {
    let dir = temp_dir();
    let post = |url: String, key: &'static str, body: serde_json::Value| async move {
        let response = client()
            .post(url)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<serde_json::Value>().await.unwrap(),
        )
    };
    let (fib, first) = {
        let node = Node::start(dir.path(), DEFAULT_CONFIG);
        let fib = node.plugin_id(&plugin("fibonacci")).await;
        let body = serde_json::json!({"plugin": fib, "input": [20], "prove": false});
        let (status, first) = post(node.url("/jobs"), "order-17", body.clone()).await;
        assert_eq!(status, 202, "{first}");
        // Same key, same request (the plugin id's case does not matter): the same job, 200.
        let upper =
            serde_json::json!({"plugin": fib.to_uppercase(), "input": [20], "prove": false});
        let (status, again) = post(node.url("/jobs"), "order-17", upper).await;
        assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");
        // Same key, another request: 409, and no job is created.
        let (status, conflict) = post(
            node.url("/jobs"),
            "order-17",
            serde_json::json!({"plugin": fib, "input": [21], "prove": false}),
        )
        .await;
        assert_eq!(
            (status, conflict["error"]["code"].as_str()),
            (409, Some("idempotency_conflict"))
        );
        let (status, bad) = post(node.url("/jobs"), "has space", body).await;
        assert_eq!(
            (status, bad["error"]["code"].as_str()),
            (400, Some("invalid_idempotency_key"))
        );
        assert_eq!(
            node.output(first["id"].as_str().unwrap()).await,
            vec![fibonacci(20)]
        );
        (fib, first)
    };
    // After a restart the key still maps to the job.
    let node = Node::start(dir.path(), DEFAULT_CONFIG);
    let (status, replay) = post(
        node.url("/jobs"),
        "order-17",
        serde_json::json!({"plugin": fib, "input": [20], "prove": false}),
    )
    .await;
    assert_eq!((status, &replay["id"]), (200, &first["id"]), "{replay}");
    assert_eq!(replay["status"], "completed");
    let (_, all) = node.get("/jobs?limit=500").await;
    assert_eq!(
        all["jobs"].as_array().unwrap().len(),
        1,
        "replays and conflicts created no jobs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn job_events_stream_until_the_job_ends() {
    let dir = temp_dir();
    let node = Node::start(dir.path(), "[limits]\nworkers = 1\nfuel = 100000000000\n");
    let slow = node.plugin_id(&fixture("slow")).await;
    let (status, accepted) = node
        .submit_json(serde_json::json!({"plugin": slow, "timeout_ms": 300}))
        .await;
    assert_eq!(status, 202);
    let id = accepted["id"].as_str().unwrap().to_string();

    let events = read_events(node.url(&format!("/jobs/{id}/events"))).await;
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"failed"), "{statuses:?}");
    assert!(statuses.contains(&"running"), "{statuses:?}");
    assert!(
        statuses.windows(2).all(|w| w[0] != w[1]),
        "only changes are sent: {statuses:?}"
    );
    assert_eq!(events.last().unwrap()["error"]["code"], "timeout");
    assert!(events.iter().all(|e| e["id"] == id.as_str()));

    // A finished job: one event with the final state, then the stream ends.
    let events = read_events(node.url(&format!("/jobs/{id}/events"))).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["status"], "failed");

    let (status, body) = node
        .get("/jobs/01900000-0000-7000-8000-000000000000/events")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("job_not_found"))
    );
}
