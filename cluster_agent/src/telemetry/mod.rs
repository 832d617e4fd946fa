//! Telemetry sources: node metrics from /proc and statvfs, GPU metrics through NVML,
//! and NVIDIA Xid errors from the kernel log.

pub mod gpu;
pub mod kmsg;
pub mod node;
