//! The catalogue of failure codes: every error a client can see, job failures and HTTP errors
//! alike, has a stable `code` listed here with whether retrying the same request can succeed.
//! A failed job's code is a [`FailureCode`]; HTTP errors name theirs in `server::ApiError`.

use obelysk_vm::VmError;
use serde::{Deserialize, Serialize};

/// Why a job failed (its `error.code`, written in snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    OutOfFuel,
    MemoryLimit,
    StackOverflow,
    Trap,
    Timeout,
    OutputLimit,
    InputLimit,
    InvalidModule,
    UnsupportedImport,
    AbiSignature,
    SegmentBounds,
    UnsupportedFeature,
    TableLimit,
    MissingExport,
    Divergence,
    NotProvable,
    StepLimit,
    TooLarge,
    ProveFailed,
    ProofRejected,
    Internal,
}

impl FailureCode {
    /// Every code.
    pub const ALL: [FailureCode; 21] = [
        FailureCode::OutOfFuel,
        FailureCode::MemoryLimit,
        FailureCode::StackOverflow,
        FailureCode::Trap,
        FailureCode::Timeout,
        FailureCode::OutputLimit,
        FailureCode::InputLimit,
        FailureCode::InvalidModule,
        FailureCode::UnsupportedImport,
        FailureCode::AbiSignature,
        FailureCode::SegmentBounds,
        FailureCode::UnsupportedFeature,
        FailureCode::TableLimit,
        FailureCode::MissingExport,
        FailureCode::Divergence,
        FailureCode::NotProvable,
        FailureCode::StepLimit,
        FailureCode::TooLarge,
        FailureCode::ProveFailed,
        FailureCode::ProofRejected,
        FailureCode::Internal,
    ];

    /// The code as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::OutOfFuel => "out_of_fuel",
            FailureCode::MemoryLimit => "memory_limit",
            FailureCode::StackOverflow => "stack_overflow",
            FailureCode::Trap => "trap",
            FailureCode::Timeout => "timeout",
            FailureCode::OutputLimit => "output_limit",
            FailureCode::InputLimit => "input_limit",
            FailureCode::InvalidModule => "invalid_module",
            FailureCode::UnsupportedImport => "unsupported_import",
            FailureCode::AbiSignature => "abi_signature",
            FailureCode::SegmentBounds => "segment_bounds",
            FailureCode::UnsupportedFeature => "unsupported_feature",
            FailureCode::TableLimit => "table_limit",
            FailureCode::MissingExport => "missing_export",
            FailureCode::Divergence => "divergence",
            FailureCode::NotProvable => "not_provable",
            FailureCode::StepLimit => "step_limit",
            FailureCode::TooLarge => "too_large",
            FailureCode::ProveFailed => "prove_failed",
            FailureCode::ProofRejected => "proof_rejected",
            FailureCode::Internal => "internal",
        }
    }

    /// Parses a stored code.
    pub fn parse(s: &str) -> Option<FailureCode> {
        Self::ALL.into_iter().find(|code| code.as_str() == s)
    }

    /// The code of a sandbox or module failure.
    pub fn of(error: &VmError) -> FailureCode {
        match error {
            VmError::InvalidModule(_) => FailureCode::InvalidModule,
            VmError::UnsupportedImport { .. } => FailureCode::UnsupportedImport,
            VmError::AbiSignature { .. } => FailureCode::AbiSignature,
            VmError::Segment(_) => FailureCode::SegmentBounds,
            VmError::NotInteger(_) => FailureCode::UnsupportedFeature,
            VmError::TableLimit(_) => FailureCode::TableLimit,
            VmError::MissingExport(_) => FailureCode::MissingExport,
            VmError::OutOfFuel { .. } => FailureCode::OutOfFuel,
            VmError::MemoryLimit { .. } => FailureCode::MemoryLimit,
            VmError::StackOverflow { .. } => FailureCode::StackOverflow,
            VmError::Trap(_) => FailureCode::Trap,
            VmError::Timeout { .. } => FailureCode::Timeout,
            VmError::OutputLimit { .. } => FailureCode::OutputLimit,
            VmError::InputLimit { .. } => FailureCode::InputLimit,
            VmError::Internal(_) => FailureCode::Internal,
        }
    }

    /// Whether resubmitting can succeed (from the catalogue).
    pub fn retryable(self) -> bool {
        retryable(self.as_str())
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `(code, retryable, meaning)` for every code the node emits.
pub const CATALOGUE: &[(&str, bool, &str)] = &[
    // Job failures (GET /jobs/{id} → error).
    (
        "out_of_fuel",
        false,
        "the job used its whole fuel budget; resubmit with more fuel (up to the node's limit)",
    ),
    (
        "memory_limit",
        false,
        "the module asked for more linear memory than the node allows",
    ),
    (
        "stack_overflow",
        false,
        "the call stack exceeded the node's stack limit",
    ),
    (
        "trap",
        false,
        "the module trapped (unreachable, a guest panic, an out-of-range read, ...); the message has the wasm backtrace",
    ),
    (
        "timeout",
        true,
        "the job ran past its wall-clock budget; on a less loaded node it may finish",
    ),
    (
        "output_limit",
        false,
        "the module wrote more output words than allowed",
    ),
    (
        "input_limit",
        false,
        "the input has more words than allowed",
    ),
    (
        "invalid_module",
        false,
        "a stored module no longer compiles",
    ),
    (
        "divergence",
        false,
        "the Obelysk VM's re-execution disagreed with the sandbox (both outputs are logged); the job is not proven",
    ),
    (
        "not_provable",
        false,
        "the module uses instructions the Obelysk VM cannot prove yet (`details.unsupported` lists them); submit with `\"prove\": false` to only run it",
    ),
    (
        "step_limit",
        false,
        "the run took more VM steps than this node proves (`[prover] max_steps`), or than the job allows (its `max_steps`, or its API key's)",
    ),
    (
        "too_large",
        false,
        "the proof's predicted memory exceeds this node's prover memory budget",
    ),
    (
        "prove_failed",
        true,
        "the prover failed on this run (logged)",
    ),
    (
        "proof_rejected",
        true,
        "the node's own verifier rejected the proof it made, so it was not published (logged)",
    ),
    (
        "internal",
        true,
        "the node failed for a reason that is not the job's (logged)",
    ),
    (
        "segment_bounds",
        false,
        "a data or element segment of the module is out of bounds",
    ),
    (
        "table_limit",
        false,
        "the module's tables exceed the sandbox's table limit",
    ),
    (
        "unsupported_feature",
        false,
        "the module uses floats or SIMD (every construct named)",
    ),
    // HTTP errors.
    (
        "unsupported_import",
        false,
        "the module imports something outside the guest ABI",
    ),
    (
        "abi_signature",
        false,
        "an ABI import or export has the wrong type",
    ),
    (
        "missing_export",
        false,
        "the module does not export `memory` and `main`",
    ),
    (
        "payload_too_large",
        false,
        "the body is larger than the node accepts",
    ),
    ("malformed_json", false, "the body is not JSON"),
    (
        "invalid_request",
        false,
        "the JSON does not have the expected shape",
    ),
    (
        "unsupported_media_type",
        false,
        "send Content-Type: application/json",
    ),
    ("invalid_body", false, "the body could not be read"),
    ("invalid_query", false, "bad query parameters"),
    ("invalid_id", false, "the id is malformed"),
    (
        "limit_exceeded",
        false,
        "a requested budget is above the node's limit",
    ),
    (
        "invalid_idempotency_key",
        false,
        "Idempotency-Key must be 1 to 255 visible ASCII characters",
    ),
    (
        "idempotency_conflict",
        false,
        "this Idempotency-Key was used with a different request",
    ),
    ("plugin_not_found", false, "no plugin with that id"),
    ("job_not_found", false, "no job with that id"),
    (
        "proof_not_ready",
        true,
        "the job is not completed yet; retry later or follow /jobs/{id}/events",
    ),
    (
        "proof_not_found",
        false,
        "the job has no proof: it failed, or was submitted with `\"prove\": false`",
    ),
    ("not_found", false, "no such route"),
    (
        "method_not_allowed",
        false,
        "the route does not take this method",
    ),
    (
        "queue_full",
        true,
        "too many jobs are waiting; retry after the Retry-After header",
    ),
    (
        "unauthorized",
        false,
        "the route needs `Authorization: Bearer <token>` of a live API key (`[auth] required` is on), or the token is unknown",
    ),
    ("key_revoked", false, "the request's API key was revoked"),
    (
        "forbidden",
        false,
        "the API key's role (client or worker) does not allow this route",
    ),
    (
        "quota_exceeded",
        true,
        "the job would exceed a limit of its API key (`details.limit`: max_in_flight, jobs_per_minute or max_steps); retry after the Retry-After header (max_steps never passes)",
    ),
    (
        "worker_not_found",
        false,
        "no remote worker with that id (the coordinator's store was reset?): register again",
    ),
    (
        "worker_quarantined",
        true,
        "the worker uploaded a proof that did not verify: no leases until the Retry-After header's seconds pass",
    ),
    (
        "lease_lost",
        false,
        "the worker no longer holds the job's lease (it expired, or the job finished); the job went back to the queue",
    ),
    (
        "store_unavailable",
        true,
        "the database did not answer; retry later",
    ),
];

/// Whether retrying can succeed for `code` (unknown codes are not retryable).
pub fn retryable(code: &str) -> bool {
    CATALOGUE
        .iter()
        .find(|(c, ..)| *c == code)
        .is_some_and(|(_, r, _)| *r)
}

/// The catalogue as Markdown-ish text for the OpenAPI description.
pub fn describe() -> String {
    CATALOGUE
        .iter()
        .map(|(code, retryable, meaning)| {
            format!(
                "- `{code}`{}: {meaning}",
                if *retryable { " (retryable)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_code_is_catalogued_and_round_trips() {
        for code in FailureCode::ALL {
            assert!(
                CATALOGUE.iter().any(|(c, ..)| *c == code.as_str()),
                "{code} is not catalogued"
            );
            assert_eq!(FailureCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{code}\""));
        }
        assert_eq!(FailureCode::parse("nonsense"), None);
    }

    #[test]
    fn every_vm_failure_is_catalogued() {
        use obelysk_vm::VmError;
        let errors = [
            VmError::InvalidModule(String::new()),
            VmError::UnsupportedImport {
                module: String::new(),
                name: String::new(),
            },
            VmError::AbiSignature {
                name: String::new(),
                expected: String::new(),
                found: String::new(),
            },
            VmError::MissingExport(String::new()),
            VmError::OutOfFuel { limit: 0 },
            VmError::MemoryLimit {
                requested: 0,
                limit: 0,
            },
            VmError::StackOverflow { limit: 0 },
            VmError::Trap(String::new()),
            VmError::Timeout {
                limit: std::time::Duration::ZERO,
            },
            VmError::OutputLimit { limit: 0 },
            VmError::InputLimit { len: 0, limit: 0 },
            VmError::Internal(String::new()),
        ];
        for e in errors {
            assert!(
                CATALOGUE.iter().any(|(c, ..)| *c == e.code()),
                "{} is not catalogued",
                e.code()
            );
            assert_eq!(FailureCode::of(&e).as_str(), e.code());
        }
        assert!(
            retryable("queue_full")
                && retryable("timeout")
                && !retryable("trap")
                && !retryable("nonsense")
        );
        // What the prover pool and the proof routes emit.
        for code in [
            "divergence",
            "not_provable",
            "step_limit",
            "too_large",
            "prove_failed",
            "proof_rejected",
            "proof_not_ready",
            "proof_not_found",
        ] {
            assert!(CATALOGUE.iter().any(|(c, ..)| *c == code), "{code}");
        }
        let codes: std::collections::HashSet<_> = CATALOGUE.iter().map(|(c, ..)| c).collect();
        assert_eq!(codes.len(), CATALOGUE.len(), "duplicate codes");
    }
}
