//! The CPU features this binary was compiled for, checked against the CPU it runs on.
//!
//! Builds target the CPU they are built on (`.cargo/config.toml`), so a binary copied to an
//! older machine would die with SIGILL at its first AVX instruction, with no message.
//! [`missing_features`] reads CPUID itself: `is_x86_feature_detected!` answers `true` without
//! asking the CPU for every feature enabled at compile time, which is exactly the case to catch.

/// Features this binary was compiled to use that the running CPU lacks (empty when it can run).
pub fn missing_features() -> Vec<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        x86::missing()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{__cpuid, __cpuid_count, CpuidResult};

    /// Where CPUID reports a feature.
    #[derive(Clone, Copy)]
    enum Register {
        /// Leaf 1, ECX.
        Leaf1Ecx,
        /// Leaf 7 sub-leaf 0, EBX.
        Leaf7Ebx,
        /// Leaf 7 sub-leaf 0, ECX.
        Leaf7Ecx,
        /// Leaf 0x8000_0001, ECX.
        ExtendedEcx,
    }
    use Register::*;

    /// A feature's name (as `target_feature` spells it), whether this build uses it, and its
    /// CPUID bit. The SIMD families stwo and LLVM's vectoriser use, and the scalar extensions
    /// `x86-64-v3` adds.
    macro_rules! features {
        ($(($name:literal, $register:expr, $bit:literal)),* $(,)?) => {
            [$(($name, cfg!(target_feature = $name), $register, $bit)),*]
        };
    }
    const FEATURES: [(&str, bool, Register, u32); 22] = features![
        ("sse4.1", Leaf1Ecx, 19),
        ("sse4.2", Leaf1Ecx, 20),
        ("popcnt", Leaf1Ecx, 23),
        ("movbe", Leaf1Ecx, 22),
        ("fma", Leaf1Ecx, 12),
        ("avx", Leaf1Ecx, 28),
        ("f16c", Leaf1Ecx, 29),
        ("bmi1", Leaf7Ebx, 3),
        ("avx2", Leaf7Ebx, 5),
        ("bmi2", Leaf7Ebx, 8),
        ("avx512f", Leaf7Ebx, 16),
        ("avx512dq", Leaf7Ebx, 17),
        ("avx512ifma", Leaf7Ebx, 21),
        ("avx512cd", Leaf7Ebx, 28),
        ("avx512bw", Leaf7Ebx, 30),
        ("avx512vl", Leaf7Ebx, 31),
        ("avx512vbmi", Leaf7Ecx, 1),
        ("avx512vbmi2", Leaf7Ecx, 6),
        ("avx512vnni", Leaf7Ecx, 11),
        ("avx512bitalg", Leaf7Ecx, 12),
        ("avx512vpopcntdq", Leaf7Ecx, 14),
        ("lzcnt", ExtendedEcx, 5),
    ];

    pub(super) fn missing() -> Vec<&'static str> {
        // CPUID exists on every x86-64 CPU; leaves above the maximum return zeros (read as
        // "absent"), which is the safe answer.
        #[allow(unused_unsafe)]
        let (max_leaf, max_extended) = unsafe { (__cpuid(0).eax, __cpuid(0x8000_0000).eax) };
        #[allow(unused_unsafe)]
        let read = |leaf: u32, available: bool| match available {
            true => unsafe { __cpuid_count(leaf, 0) },
            false => CpuidResult {
                eax: 0,
                ebx: 0,
                ecx: 0,
                edx: 0,
            },
        };
        let leaf1 = read(1, max_leaf >= 1);
        let leaf7 = read(7, max_leaf >= 7);
        let extended = read(0x8000_0001, max_extended >= 0x8000_0001);
        FEATURES
            .iter()
            .filter(|&&(_, compiled, register, bit)| {
                let word = match register {
                    Leaf1Ecx => leaf1.ecx,
                    Leaf7Ebx => leaf7.ebx,
                    Leaf7Ecx => leaf7.ecx,
                    ExtendedEcx => extended.ecx,
                };
                compiled && word & (1 << bit) == 0
            })
            .map(|&(name, ..)| name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The machine that built the tests runs them: a wrong CPUID bit for a feature the build
    /// uses shows up as missing here.
    #[test]
    fn the_build_machine_has_every_feature_it_compiled_for() {
        assert_eq!(missing_features(), Vec::<&str>::new());
    }
}
