//! Bytes ↔ words. A byte payload is one length word followed by the bytes packed
//! little-endian, four to a word, the last word zero-padded.
//!
//! ```
//! use obelysk_guest::codec::{pack_bytes, unpack_bytes};
//! let words = pack_bytes(b"hello");
//! assert_eq!(words, vec![5, u32::from_le_bytes(*b"hell"), u32::from(b'o')]);
//! assert_eq!(unpack_bytes(&words).unwrap(), b"hello");
//! ```

use alloc::vec::Vec;

/// Why a word sequence is not a byte payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecError {
    /// There is no length word.
    Empty,
    /// The word count does not match the length word.
    LengthMismatch { declared: u32, words: usize },
    /// Padding bytes of the last word are not zero.
    NonZeroPadding,
}

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CodecError::Empty => {
                f.write_str("empty payload: the first word must be the byte length")
            }
            CodecError::LengthMismatch { declared, words } => write!(
                f,
                "length word says {declared} bytes but {words} data words follow"
            ),
            CodecError::NonZeroPadding => {
                f.write_str("padding bytes of the last word are not zero")
            }
        }
    }
}

/// Packs `bytes` into a payload.
pub fn pack_bytes(bytes: &[u8]) -> Vec<u32> {
    let mut words = Vec::with_capacity(1 + bytes.len().div_ceil(4));
    words.push(bytes.len() as u32);
    for chunk in bytes.chunks(4) {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        words.push(u32::from_le_bytes(word));
    }
    words
}

/// Unpacks a payload made by [`pack_bytes`]; the encoding is canonical, so anything else errors.
pub fn unpack_bytes(words: &[u32]) -> Result<Vec<u8>, CodecError> {
    let (&len, data) = words.split_first().ok_or(CodecError::Empty)?;
    if (len as usize).div_ceil(4) != data.len() {
        return Err(CodecError::LengthMismatch {
            declared: len,
            words: data.len(),
        });
    }
    let mut bytes: Vec<u8> = data.iter().flat_map(|w| w.to_le_bytes()).collect();
    if bytes[len as usize..].iter().any(|&b| b != 0) {
        return Err(CodecError::NonZeroPadding);
    }
    bytes.truncate(len as usize);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let words = pack_bytes(&bytes);
            prop_assert_eq!(words.len(), 1 + bytes.len().div_ceil(4));
            prop_assert_eq!(unpack_bytes(&words).unwrap(), bytes);
        }

        #[test]
        fn unpack_never_panics(words in proptest::collection::vec(any::<u32>(), 0..8)) {
            if let Ok(bytes) = unpack_bytes(&words) {
                prop_assert_eq!(pack_bytes(&bytes), words);
            }
        }
    }

    #[test]
    fn rejects_malformed_payloads() {
        assert_eq!(unpack_bytes(&[]), Err(CodecError::Empty));
        assert_eq!(
            unpack_bytes(&[5, 1]),
            Err(CodecError::LengthMismatch {
                declared: 5,
                words: 1
            })
        );
        assert_eq!(unpack_bytes(&[1, 0x100]), Err(CodecError::NonZeroPadding));
        assert_eq!(unpack_bytes(&[0]), Ok(Vec::new()));
    }
}
