//! Twiddles shared by every proof of a process. A twiddle tree for a domain of `2^k` points
//! also serves every smaller canonic domain, so the process keeps the largest it has needed
//! (tens of MB) instead of recomputing it for each proof (7–20 ms on 2 cores at 2^22).

use std::sync::{Arc, Mutex};

use stwo::core::poly::circle::CanonicCoset;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::poly::circle::PolyOps;
use stwo::prover::poly::twiddles::TwiddleTree;

/// Twiddles for canonic domains of up to `2^log_domain` points on `SimdBackend`.
pub fn simd(log_domain: u32) -> Arc<TwiddleTree<SimdBackend>> {
    static LARGEST: Mutex<Option<Arc<TwiddleTree<SimdBackend>>>> = Mutex::new(None);
    let mut largest = LARGEST.lock().unwrap_or_else(|e| e.into_inner());
    // A domain's twiddles are those of its half coset, one size smaller.
    if let Some(tree) = largest.as_ref()
        && tree.root_coset.log_size() + 1 >= log_domain
    {
        return Arc::clone(tree);
    }
    let tree = Arc::new(SimdBackend::precompute_twiddles(
        CanonicCoset::new(log_domain).circle_domain().half_coset,
    ));
    *largest = Some(Arc::clone(&tree));
    tree
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_larger_tree_serves_smaller_domains() {
        let large = simd(12);
        assert_eq!(large.root_coset.log_size(), 11);
        assert!(Arc::ptr_eq(&large, &simd(8)));
        let larger = simd(13);
        assert_eq!(larger.root_coset.log_size(), 12);
        assert!(Arc::ptr_eq(&larger, &simd(12)));
    }
}
