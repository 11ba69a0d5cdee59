//! CPU time of the parties of a cell, from `/proc/<pid>/stat`: the server under load (its whole process group, so
//! uvicorn's workers count), PostgreSQL (the postmaster and its children) and the load generator itself. On 2 cores
//! shared by all three, it says where a request's time goes; and the CPU the rest of the machine used meanwhile
//! (other builds, the idle server), from `/proc/stat`.

use std::path::Path;

/// `/proc` counts CPU time in USER_HZ ticks, 100 per second on Linux whatever the kernel's HZ.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds (user + system) used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    pub server: f64,
    pub postgres: f64,
    pub client: f64,
    /// All the machine's CPUs, busy (everything but idle and I/O wait).
    pub machine: f64,
}

impl Sample {
    /// CPU seconds of every process but the three parties.
    pub fn others(&self) -> f64 {
        (self.machine - self.server - self.postgres - self.client).max(0.0)
    }
}

impl std::ops::Sub for Sample {
    type Output = Sample;
    fn sub(self, earlier: Sample) -> Sample {
        Sample {
            server: self.server - earlier.server,
            postgres: self.postgres - earlier.postgres,
            client: self.client - earlier.client,
            machine: self.machine - earlier.machine,
        }
    }
}

/// `(pid, parent pid, process group, CPU seconds)` from the text of `/proc/<pid>/stat`.
fn parse_stat(text: &str) -> Option<(i32, i32, i32, f64)> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_whitespace().next()?.parse().ok()?;
    // After the command: state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt, cmajflt,
    // utime, stime.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((pid, ppid, pgrp, (utime + stime) / TICKS_PER_SECOND))
}

/// Busy CPU seconds of the whole machine from the text of `/proc/stat`: user, nice, system, irq, softirq and steal
/// of the `cpu` line (guest time is already in user).
fn parse_machine(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<f64> = line.split_whitespace().skip(1).map(|v| v.parse().unwrap_or(0.0)).collect();
    let busy = [0, 1, 2, 5, 6, 7].iter().map(|&i| ticks.get(i).copied().unwrap_or(0.0)).sum::<f64>();
    Some(busy / TICKS_PER_SECOND)
}

fn processes() -> Vec<(i32, i32, i32, f64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|text| parse_stat(&text))
        .collect()
}

/// What to add up.
#[derive(Debug, Clone, Copy)]
pub struct Parties {
    /// Process group of the server under load.
    pub server_group: i32,
    /// The postmaster of the benchmark's cluster.
    pub postmaster: i32,
}

impl Parties {
    /// CPU seconds each party has used so far (processes that ended since are not counted; the servers' pools
    /// keep their PostgreSQL backends alive through a cell).
    pub fn sample(&self) -> Sample {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let machine =
            std::fs::read_to_string("/proc/stat").ok().and_then(|t| parse_machine(&t)).unwrap_or(0.0);
        let mut sample = Sample { machine, ..Sample::default() };
        for (pid, ppid, pgrp, seconds) in processes() {
            if pgrp == self.server_group {
                sample.server += seconds;
            }
            if pid == self.postmaster || ppid == self.postmaster {
                sample.postgres += seconds;
            }
            if pid == me {
                sample.client += seconds;
            }
        }
        sample
    }
}

/// The parent of `pid` (a PostgreSQL backend's parent is the postmaster).
pub fn parent(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    parse_stat(&text).map(|(_, ppid, _, _)| ppid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_spaces_in_the_command_parse() {
        let line =
            "4967 (postgres: bench x) S 1 4967 4967 0 -1 4194560 1200 0 0 0 250 75 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat(line), Some((4967, 1, 4967, 3.25)));
    }

    #[test]
    fn the_machine_is_busy_but_when_idle_or_waiting() {
        let text = "cpu  100 10 50 9000 40 5 5 2 0 0\ncpu0 50 5 25 4500 20 2 2 1 0 0\n";
        assert_eq!(parse_machine(text), Some(1.72));
    }

    #[test]
    fn this_process_is_found() {
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(processes().iter().any(|p| p.0 == me));
    }
}
