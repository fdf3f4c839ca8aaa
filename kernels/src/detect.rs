use cudarc::driver::{result, sys};
use serde::Serialize;

/// One CUDA device as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuDevice {
    pub ordinal: u32,
    pub name: String,
    pub memory_bytes: u64,
    /// `(major, minor)`, e.g. `(9, 0)` for an H100.
    pub compute_capability: (u32, u32),
}

/// What [`detect`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuStatus {
    /// True when the driver loaded and reported at least one device.
    pub available: bool,
    /// The driver's CUDA version, e.g. `13.0`, when the driver loaded.
    pub driver_version: Option<String>,
    pub devices: Vec<GpuDevice>,
    /// Why no device is available, when none is.
    pub reason: Option<String>,
}

impl GpuStatus {
    fn unavailable(reason: impl Into<String>, driver_version: Option<String>) -> Self {
        GpuStatus {
            available: false,
            driver_version,
            devices: Vec::new(),
            reason: Some(reason.into()),
        }
    }
}

/// Loads the CUDA driver dynamically and lists its devices. Never panics: a machine without
/// `libcuda` or without devices gets a status that says so.
pub fn detect() -> GpuStatus {
    // SAFETY: only tries to dlopen the driver library; `culib()` would panic instead.
    if !unsafe { sys::is_culib_present() } {
        return GpuStatus::unavailable("the CUDA driver library (libcuda) was not found", None);
    }
    if let Err(e) = result::init() {
        return GpuStatus::unavailable(format!("cuInit failed: {e:?}"), None);
    }
    let driver_version = driver_version();
    let count = match result::device::get_count() {
        Ok(n) => n,
        Err(e) => {
            return GpuStatus::unavailable(
                format!("cuDeviceGetCount failed: {e:?}"),
                driver_version,
            );
        }
    };
    let mut devices = Vec::new();
    for ordinal in 0..count {
        match describe(ordinal) {
            Ok(device) => devices.push(device),
            Err(e) => {
                return GpuStatus::unavailable(format!("device {ordinal}: {e:?}"), driver_version);
            }
        }
    }
    if devices.is_empty() {
        return GpuStatus::unavailable("the CUDA driver reports no devices", driver_version);
    }
    GpuStatus {
        available: true,
        driver_version,
        devices,
        reason: None,
    }
}

fn describe(ordinal: i32) -> Result<GpuDevice, result::DriverError> {
    use sys::CUdevice_attribute::*;
    let dev = result::device::get(ordinal)?;
    // SAFETY: `dev` is a valid device handle from `cuDeviceGet`.
    let (memory, major, minor) = unsafe {
        (
            result::device::total_mem(dev)?,
            result::device::get_attribute(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
            result::device::get_attribute(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
        )
    };
    Ok(GpuDevice {
        ordinal: ordinal as u32,
        name: result::device::get_name(dev)?,
        memory_bytes: memory as u64,
        compute_capability: (major as u32, minor as u32),
    })
}

fn driver_version() -> Option<String> {
    let mut version = 0;
    // SAFETY: the driver library is loaded and initialised; the out-pointer is valid.
    let status = unsafe { sys::cuDriverGetVersion(&mut version) };
    (status == sys::CUresult::CUDA_SUCCESS)
        .then(|| format!("{}.{}", version / 1000, (version % 1000) / 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs everywhere: without a GPU it must report why, with one it must list it.
    #[test]
    fn detect_is_honest_and_never_panics() {
        let status = detect();
        if status.available {
            assert!(!status.devices.is_empty());
            assert!(
                status
                    .devices
                    .iter()
                    .all(|d| d.memory_bytes > 0 && !d.name.is_empty())
            );
            eprintln!("GPU found: {status:?}");
        } else {
            assert!(status.devices.is_empty());
            eprintln!("SKIP (no GPU): {}", status.reason.as_deref().unwrap_or("?"));
            assert!(status.reason.is_some());
        }
    }
}
