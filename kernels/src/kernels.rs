//! The hand-written kernel sources in `kernels/cuda/`, embedded in the binary, and the
//! resolution of their `#include "…"` lines into one self-contained source for NVRTC.

/// The headers kernel sources may include, by file name.
pub const HEADERS: &[(&str, &str)] = &[
    ("field.cuh", include_str!("../cuda/field.cuh")),
    ("blake2s.cuh", include_str!("../cuda/blake2s.cuh")),
];

/// The kernel sources, by file name.
pub const SOURCES: &[(&str, &str)] = &[
    ("accumulate.cu", include_str!("../cuda/accumulate.cu")),
    ("barycentric.cu", include_str!("../cuda/barycentric.cu")),
    ("bit_reverse.cu", include_str!("../cuda/bit_reverse.cu")),
    ("fft.cu", include_str!("../cuda/fft.cu")),
    ("fri.cu", include_str!("../cuda/fri.cu")),
    ("merkle.cu", include_str!("../cuda/merkle.cu")),
    ("quotients.cu", include_str!("../cuda/quotients.cu")),
];

/// `text` with every `#include "name"` of a known header replaced by the header (each header
/// once, as `#pragma once` would). Panics on an unknown quoted include: that is a bug here.
pub fn with_headers(text: &str) -> String {
    let mut included = Vec::new();
    let mut out = String::with_capacity(text.len() + 8192);
    expand(text, &mut included, &mut out);
    out
}

fn expand(text: &str, included: &mut Vec<&'static str>, out: &mut String) {
    for line in text.lines() {
        let name = line
            .trim()
            .strip_prefix("#include \"")
            .and_then(|rest| rest.strip_suffix('"'));
        match name {
            Some(name) => {
                let &(name, header) = HEADERS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap_or_else(|| panic!("unknown kernel header {name}"));
                if !included.contains(&name) {
                    included.push(name);
                    expand(header, included, out);
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_resolved_once_each() {
        let merkle = SOURCES.iter().find(|(n, _)| *n == "merkle.cu").unwrap().1;
        let resolved = with_headers(merkle);
        assert!(!resolved.contains("#include \""));
        assert_eq!(resolved.matches("OBELYSK_FN u32 m31_add").count(), 1);
        assert_eq!(resolved.matches("struct blake2s_state").count(), 1);
    }
}
