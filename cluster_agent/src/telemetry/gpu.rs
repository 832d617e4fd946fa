//! GPU telemetry through NVML, with fields named after DCGM's standard fields.
//! `libnvidia-ml` is loaded at run time, so the same binary runs on hosts without a
//! GPU; the record building is pure and tested on recorded NVML readings.

use crate::record::{record_id, Record};
use nvml_wrapper::enum_wrappers::device::{Clock, EccCounter, MemoryError, TemperatureSensor};
use nvml_wrapper::Nvml;
use std::collections::BTreeMap;

const MIB: f64 = 1_048_576.0;

/// What NVML said about one GPU; a field NVML does not support is simply absent.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuReading {
    pub index: u32,
    pub name: String,
    pub uuid: String,
    pub pci_bus_id: String,
    pub fields: Vec<(&'static str, f64)>,
}

pub struct Gpus {
    nvml: Nvml,
    pub driver_version: String,
}

impl Gpus {
    /// NVML if the driver library is present, else why not (not an error: CPU nodes).
    pub fn open() -> Result<Gpus, String> {
        let nvml = Nvml::init()
            .or_else(|_| Nvml::builder().lib_path(std::ffi::OsStr::new("libnvidia-ml.so")).init())
            .map_err(|e| format!("NVML unavailable: {e}"))?;
        let driver_version = nvml.sys_driver_version().unwrap_or_default();
        Ok(Gpus { nvml, driver_version })
    }

    pub fn read(&self) -> Vec<GpuReading> {
        let count = self.nvml.device_count().unwrap_or(0);
        let mut readings = Vec::new();
        for index in 0..count {
            let Ok(device) = self.nvml.device_by_index(index) else { continue };
            let mut fields: Vec<(&'static str, f64)> = Vec::new();
            if let Ok(u) = device.utilization_rates() {
                fields.push(("DCGM_FI_DEV_GPU_UTIL", f64::from(u.gpu)));
                fields.push(("DCGM_FI_DEV_MEM_COPY_UTIL", f64::from(u.memory)));
            }
            if let Ok(m) = device.memory_info() {
                fields.push(("DCGM_FI_DEV_FB_TOTAL", m.total as f64 / MIB));
                fields.push(("DCGM_FI_DEV_FB_USED", m.used as f64 / MIB));
                fields.push(("DCGM_FI_DEV_FB_FREE", m.free as f64 / MIB));
            }
            let mut put = |name: &'static str, value: Option<f64>| {
                if let Some(v) = value {
                    fields.push((name, v));
                }
            };
            put("DCGM_FI_DEV_GPU_TEMP", device.temperature(TemperatureSensor::Gpu).ok().map(f64::from));
            put("DCGM_FI_DEV_POWER_USAGE", device.power_usage().ok().map(|mw| f64::from(mw) / 1000.0));
            put("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", device.total_energy_consumption().ok().map(|mj| mj as f64));
            put("DCGM_FI_DEV_SM_CLOCK", device.clock_info(Clock::SM).ok().map(f64::from));
            put("DCGM_FI_DEV_MEM_CLOCK", device.clock_info(Clock::Memory).ok().map(f64::from));
            let ecc = |kind| device.total_ecc_errors(kind, EccCounter::Volatile).ok().map(|n| n as f64);
            put("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", ecc(MemoryError::Corrected));
            put("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", ecc(MemoryError::Uncorrected));
            readings.push(GpuReading {
                index,
                name: device.name().unwrap_or_default(),
                uuid: device.uuid().unwrap_or_default(),
                pci_bus_id: device.pci_info().map(|p| p.bus_id).unwrap_or_default(),
                fields,
            });
        }
        readings
    }
}

/// One `gpu` record per reading, labelled like dcgm-exporter (gpu, UUID, modelName).
pub fn records<'a>(readings: &[GpuReading], node: &'a str, ts: &'a str, driver_version: &str) -> Vec<Record<'a>> {
    readings
        .iter()
        .map(|r| {
            let metrics: BTreeMap<String, f64> = r.fields.iter().map(|(k, v)| ((*k).to_string(), *v)).collect();
            let get = |k: &str| metrics.get(k).map_or("?".to_string(), |v| format!("{v:.0}"));
            let message = format!(
                "GPU {} {}: {}% busy, {} of {} MiB used, {} C, {} W",
                r.index,
                r.name,
                get("DCGM_FI_DEV_GPU_UTIL"),
                get("DCGM_FI_DEV_FB_USED"),
                get("DCGM_FI_DEV_FB_TOTAL"),
                get("DCGM_FI_DEV_GPU_TEMP"),
                get("DCGM_FI_DEV_POWER_USAGE")
            );
            let id = record_id(&[b"gpu", node.as_bytes(), r.uuid.as_bytes(), ts.as_bytes()]);
            let mut record = Record::new("gpu", id, ts, message).with_metrics(metrics);
            record.node = Some(node.into());
            record.labels.insert("gpu", r.index.to_string());
            record.labels.insert("UUID", r.uuid.clone());
            record.labels.insert("modelName", r.name.clone());
            record.labels.insert("pci_bus_id", r.pci_bus_id.clone());
            record.labels.insert("driver_version", driver_version.to_string());
            record
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values as NVML reports them for an idle H100 SXM (ECC unsupported fields absent).
    fn h100() -> GpuReading {
        GpuReading {
            index: 0,
            name: "NVIDIA H100 80GB HBM3".into(),
            uuid: "GPU-5b0d7bd1-1c8e-3f36-0a5e-7a1ad3b6d4c1".into(),
            pci_bus_id: "00000000:19:00.0".into(),
            fields: vec![
                ("DCGM_FI_DEV_GPU_UTIL", 0.0),
                ("DCGM_FI_DEV_MEM_COPY_UTIL", 0.0),
                ("DCGM_FI_DEV_FB_TOTAL", 81559.0),
                ("DCGM_FI_DEV_FB_USED", 527.0),
                ("DCGM_FI_DEV_FB_FREE", 81032.0),
                ("DCGM_FI_DEV_GPU_TEMP", 31.0),
                ("DCGM_FI_DEV_POWER_USAGE", 71.325),
                ("DCGM_FI_DEV_SM_CLOCK", 345.0),
                ("DCGM_FI_DEV_MEM_CLOCK", 2619.0),
            ],
        }
    }

    #[test]
    fn gpu_records_carry_dcgm_fields_and_labels() {
        let records = records(&[h100()], "gpu-node-1", "2026-11-29T04:00:00Z", "550.54.15");
        let record = &records[0];
        assert_eq!(record.kind, "gpu");
        let metrics = record.metrics.as_ref().unwrap();
        assert_eq!(metrics["DCGM_FI_DEV_FB_TOTAL"], 81559.0);
        assert_eq!(metrics["DCGM_FI_DEV_POWER_USAGE"], 71.325);
        assert!(!metrics.contains_key("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"));
        assert_eq!(record.labels.get("modelName"), Some("NVIDIA H100 80GB HBM3"));
        assert_eq!(record.message, "GPU 0 NVIDIA H100 80GB HBM3: 0% busy, 527 of 81559 MiB used, 31 C, 71 W");
        let again = records_for_same_sample();
        assert_eq!(again[0].id, record.id, "same GPU and time give the same id");
    }

    fn records_for_same_sample() -> Vec<Record<'static>> {
        records(&[h100()], "gpu-node-1", "2026-11-29T04:00:00Z", "550.54.15")
    }

    #[test]
    fn no_driver_is_reported_not_fatal() {
        // This machine has no NVIDIA driver: opening NVML must fail cleanly.
        if std::path::Path::new("/dev/nvidiactl").exists() {
            assert!(!Gpus::open().unwrap().read().is_empty());
        } else {
            assert!(Gpus::open().err().unwrap().contains("NVML unavailable"));
        }
    }
}
