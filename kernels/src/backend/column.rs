//! [`DeviceColumn`]: a column of field elements (or hashes) in a device's memory, the
//! backend's `Col<CudaBackend, T>`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::prover::backend::Column;

use crate::device::{self, DeviceBuffer, DevicePtr};

/// A value stored as a fixed number of 32-bit words (M31: 1, QM31: 4, a Blake2s hash: 8).
pub trait Element: Copy + fmt::Debug + Send + Sync + 'static {
    const WORDS: usize;
    fn write_words(&self, out: &mut [u32]);
    fn read_words(words: &[u32]) -> Self;
}

impl Element for BaseField {
    const WORDS: usize = 1;
    fn write_words(&self, out: &mut [u32]) {
        out[0] = self.0;
    }
    fn read_words(words: &[u32]) -> Self {
        BaseField::from_u32_unchecked(words[0])
    }
}

impl Element for SecureField {
    const WORDS: usize = 4;
    fn write_words(&self, out: &mut [u32]) {
        for (o, m) in out.iter_mut().zip(self.to_m31_array()) {
            *o = m.0;
        }
    }
    fn read_words(words: &[u32]) -> Self {
        SecureField::from_m31_array(std::array::from_fn(|i| {
            BaseField::from_u32_unchecked(words[i])
        }))
    }
}

impl Element for Blake2sHash {
    const WORDS: usize = 8;
    fn write_words(&self, out: &mut [u32]) {
        for (o, chunk) in out.iter_mut().zip(self.0.chunks_exact(4)) {
            *o = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        }
    }
    fn read_words(words: &[u32]) -> Self {
        let mut bytes = [0u8; 32];
        for (chunk, w) in bytes.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        Blake2sHash(bytes)
    }
}

/// `len` elements of `T` in device memory (on the device that was current when it was made).
///
/// Reading single elements (`at`, what stwo's decommitment does per queried position) goes
/// through a host mirror fetched in one copy on first use, not one transfer per element; every
/// write path (`set`, [`DeviceColumn::ptr_mut`]) drops the mirror.
pub struct DeviceColumn<T: Element> {
    buffer: DeviceBuffer,
    len: usize,
    mirror: OnceLock<Vec<u32>>,
    _element: PhantomData<T>,
}

impl<T: Element> DeviceColumn<T> {
    /// Wraps a buffer holding `len` elements.
    pub fn from_buffer(buffer: DeviceBuffer, len: usize) -> Self {
        assert!(buffer.words() >= len * T::WORDS);
        DeviceColumn {
            buffer,
            len,
            mirror: OnceLock::new(),
            _element: PhantomData,
        }
    }

    /// A copy of `values` on the current device.
    pub fn from_slice(values: &[T]) -> Self {
        let mut words = vec![0u32; values.len() * T::WORDS];
        for (v, out) in values.iter().zip(words.chunks_exact_mut(T::WORDS)) {
            v.write_words(out);
        }
        DeviceColumn::from_buffer(
            DeviceBuffer::from_words(device::current(), &words),
            values.len(),
        )
    }

    /// Address of the first element, for kernels that read the column.
    pub fn ptr(&self) -> DevicePtr {
        self.buffer.ptr()
    }

    /// Address of the first element, for kernels that write the column (drops the mirror).
    pub fn ptr_mut(&mut self) -> DevicePtr {
        self.mirror = OnceLock::new();
        self.buffer.ptr()
    }

    pub fn buffer(&self) -> &DeviceBuffer {
        &self.buffer
    }
}

impl<T: Element> Clone for DeviceColumn<T> {
    fn clone(&self) -> Self {
        DeviceColumn::from_buffer(self.buffer.clone(), self.len)
    }
}

impl<T: Element> fmt::Debug for DeviceColumn<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeviceColumn<{}>[{}] on {}",
            std::any::type_name::<T>(),
            self.len,
            self.buffer.device().name()
        )
    }
}

impl<T: Element> FromIterator<T> for DeviceColumn<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        DeviceColumn::from_slice(&iter.into_iter().collect::<Vec<_>>())
    }
}

impl<T: Element> Column<T> for DeviceColumn<T> {
    fn zeros(len: usize) -> Self {
        DeviceColumn::from_buffer(DeviceBuffer::zeroed(device::current(), len * T::WORDS), len)
    }

    unsafe fn uninitialized(len: usize) -> Self {
        Self::zeros(len)
    }

    fn to_cpu(&self) -> Vec<T> {
        self.buffer
            .read(0, self.len * T::WORDS)
            .chunks_exact(T::WORDS)
            .map(T::read_words)
            .collect()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn at(&self, index: usize) -> T {
        assert!(
            index < self.len,
            "index {index} out of a column of {}",
            self.len
        );
        let mirror = self
            .mirror
            .get_or_init(|| self.buffer.read(0, self.len * T::WORDS));
        T::read_words(&mirror[index * T::WORDS..(index + 1) * T::WORDS])
    }

    fn set(&mut self, index: usize, value: T) {
        assert!(
            index < self.len,
            "index {index} out of a column of {}",
            self.len
        );
        let mut words = [0u32; 8];
        value.write_words(&mut words[..T::WORDS]);
        self.mirror = OnceLock::new();
        self.buffer.write(index * T::WORDS, &words[..T::WORDS]);
    }

    fn split_at_mid(self) -> (Self, Self) {
        let half = self.len / 2;
        let device = self.buffer.device().clone();
        let left = DeviceBuffer::zeroed(device.clone(), half * T::WORDS);
        let right = DeviceBuffer::zeroed(device.clone(), (self.len - half) * T::WORDS);
        device.copy(left.ptr(), self.buffer.ptr(), half * T::WORDS);
        device.copy(
            right.ptr(),
            self.buffer.ptr_at(half * T::WORDS),
            (self.len - half) * T::WORDS,
        );
        (
            DeviceColumn::from_buffer(left, half),
            DeviceColumn::from_buffer(right, self.len - half),
        )
    }
}
