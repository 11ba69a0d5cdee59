//! The machine a benchmark ran on, for its report.

use std::fmt;

/// CPU model, cores and memory, read from `/proc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub ram_gib: f64,
}

impl Machine {
    /// Reads `/proc/cpuinfo` and `/proc/meminfo`.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let ram_kb: f64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0.0);
        Machine { cpu, cores, ram_gib: ram_kb / 1024.0 / 1024.0 }
    }
}

impl fmt::Display for Machine {
    /// `AMD EPYC, 2 cores, 24 GiB RAM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {} cores, {:.0} GiB RAM", self.cpu, self.cores, self.ram_gib)
    }
}
