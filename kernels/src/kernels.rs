//! The hand-written kernel sources in `kernels/cuda/`, embedded in the binary.

use crate::constraints::codegen::FIELD_HEADER;

/// The line each `.cu` file uses to pull in the field header.
const HEADER_INCLUDE: &str = "#include \"field.cuh\"";

/// `text` with its `#include "field.cuh"` replaced by the header itself, ready for NVRTC
/// (which is given one self-contained source).
pub fn with_header(text: &str) -> String {
    text.replacen(HEADER_INCLUDE, FIELD_HEADER, 1)
}
