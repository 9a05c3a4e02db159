//! A process's CPU time and resident memory, read from /proc (Linux).

use std::io;

/// Clock ticks per second of /proc/PID/stat's times: `sysconf(_SC_CLK_TCK)`, 100 on every Linux the generator
/// targets (reading it would need libc and unsafe code).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds `pid` has used, all its threads together.
pub(crate) fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / CLOCK_TICKS_PER_SECOND).ok_or_else(|| malformed("stat"))
}

/// The resident memory of `pid` (VmRSS), in KiB.
pub(crate) fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_rss_kib(&status).ok_or_else(|| malformed("status"))
}

/// The file descriptors `pid` holds open (its sockets, for a proxy: two a proxied connection).
pub(crate) fn open_fds(pid: u32) -> io::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// Utime plus stime from a /proc/PID/stat line. The command name (field 2) is in parentheses and may hold
/// spaces, so fields are counted from after its closing parenthesis, where the state (field 3) starts.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11); // fields 3 to 13
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The whole machine's busy CPU seconds since boot, every core together: everything in /proc/stat's `cpu` line but
/// idle and iowait (so other processes' time, and the kernel's interrupts and softirqs, count too).
pub(crate) fn machine_busy_seconds() -> io::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    parse_machine_busy_ticks(&stat).map(|ticks| ticks as f64 / CLOCK_TICKS_PER_SECOND).ok_or_else(|| malformed("stat"))
}

/// The sum of the `cpu` line's fields less idle (4th) and iowait (5th); guest time is already in user time.
fn parse_machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> =
        line.split_whitespace().skip(1).take(8).map(|field| field.parse().ok()).collect::<Option<_>>()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = fields[..] else { return None };
    Some(user + nice + system + irq + softirq + steal)
}

fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn malformed(file: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/PID/{file} format"))
}

/// A server process whose CPU a window measures, and its name in the output (`relay A`, `redis`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watched {
    /// What to call it.
    pub name: String,
    /// Its process id.
    pub pid: u32,
}

impl Watched {
    /// The one server of `pid`, when it is known: nothing to watch otherwise.
    pub(crate) fn single(pid: Option<u32>) -> Vec<Watched> {
        pid.map(|pid| Watched { name: "server".to_owned(), pid }).into_iter().collect()
    }
}

/// The machine's busy CPU seconds between two points (see [`machine_busy_seconds`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MachineWindow {
    start: Option<f64>,
}

impl MachineWindow {
    /// Starts measuring.
    pub(crate) fn start() -> MachineWindow {
        MachineWindow { start: machine_busy_seconds().ok() }
    }

    /// Busy CPU seconds, all cores together, since [`MachineWindow::start`].
    pub(crate) fn seconds(&self) -> Option<f64> {
        Some(machine_busy_seconds().ok()? - self.start?)
    }
}

/// CPU seconds of a process between two points, when the process is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuWindow {
    pid: Option<u32>,
    start: Option<f64>,
}

impl CpuWindow {
    /// Starts measuring `pid` (nothing, without one).
    pub(crate) fn start(pid: Option<u32>) -> CpuWindow {
        CpuWindow { pid, start: pid.and_then(|pid| cpu_seconds(pid).ok()) }
    }

    /// CPU seconds used since [`CpuWindow::start`].
    pub(crate) fn seconds(&self) -> Option<f64> {
        Some(cpu_seconds(self.pid?).ok()? - self.start?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_status_lines() {
        let stat = "1234 (tokio (worker) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 100 2000 300";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_rss_kib("Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t   52340 kB\n"), Some(52340));
        assert_eq!(parse_rss_kib("Name:\tx\n"), None);
        let machine = "cpu  100 5 50 9000 20 1 7 2 0 0\ncpu0 50 2 25 4500 10 0 3 1 0 0\nintr 1\n";
        assert_eq!(parse_machine_busy_ticks(machine), Some(165));
        assert_eq!(parse_machine_busy_ticks("cpu0 1 2 3\n"), None);
    }

    #[test]
    fn this_process_is_readable() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(open_fds(pid).unwrap() >= 3);
        assert!(machine_busy_seconds().unwrap() > 0.0);
    }
}
