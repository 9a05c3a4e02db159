//! HAProxy in front of relays, as `deploy/haproxy.cfg` sets it up, in as many processes as the connections need.
//!
//! HAProxy holds two descriptors a proxied connection (the client's and the relay's), so where a process may open
//! only so many files (20,000 on the machine of BENCHMARKS.md) one process carries at most about half that many
//! connections. [`Balancers`] starts several processes on one configuration and so on one port: HAProxy binds
//! with `SO_REUSEPORT` on Linux, and the kernel deals new connections over the processes' listening sockets. Each
//! process balances over every relay (`leastconn` on its own counts) and checks each on `/healthz`. Process `p`
//! connects to relay `r` from 127.200.`p`.`r` (`source`): HAProxy binds that address before it connects, and a
//! bind to port 0 draws from half the ephemeral range only (about 14,000 ports an address here), which one
//! address a relay, shared by every process, ran out of at ~14,100 connections a relay. Each process has its own
//! configuration file for that, all on the same port. Dropping the balancers kills them.

use crate::Result;
use crate::servers::free_port;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long HAProxy may take to listen.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// HAProxy processes sharing one port, killed when dropped.
pub(crate) struct Balancers {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// The most connections each process takes (`maxconn`).
    pub maxconn: usize,
    children: Vec<Child>,
}

impl Balancers {
    /// Starts `count` processes of `haproxy` in front of `relays`, each taking up to `maxconn` connections, with their
    /// configurations in `{log_dir}/haproxy-scale-N.cfg` and their output in `haproxy-scale-N.log`; returns once
    /// all of them listen.
    pub(crate) async fn start(
        haproxy: &Path,
        count: usize,
        maxconn: usize,
        relays: &[SocketAddr],
        log_dir: &Path,
    ) -> Result<Balancers> {
        let addr = free_port()?;
        std::fs::create_dir_all(log_dir)?;
        let mut balancers = Balancers { addr, maxconn, children: Vec::with_capacity(count) };
        for index in 1..=count {
            let config = log_dir.join(format!("haproxy-scale-{index}.cfg"));
            std::fs::write(&config, config_text(addr, maxconn, relays, index))?;
            let check = std::process::Command::new(haproxy).arg("-c").arg("-q").arg("-f").arg(&config).status();
            match check {
                Ok(status) if status.success() => {}
                Ok(status) => return Err(format!("haproxy -c -f {} failed ({status})", config.display()).into()),
                Err(error) => {
                    return Err(format!("{} cannot be run ({error}); install haproxy", haproxy.display()).into());
                }
            }
            let log = std::fs::File::create(log_dir.join(format!("haproxy-scale-{index}.log")))?;
            let mut command = Command::new(haproxy);
            // -db: in the foreground, so that it is this child and dies with it.
            command.arg("-db").arg("-f").arg(&config);
            command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).kill_on_drop(true);
            balancers.children.push(command.spawn().map_err(|error| format!("starting haproxy: {error}"))?);
        }
        balancers.wait_until_listening(count).await?;
        Ok(balancers)
    }

    /// The processes' ids.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().filter_map(Child::id).collect()
    }

    /// Kills every process and waits for them to be gone.
    pub(crate) async fn stop(mut self) {
        for child in &mut self.children {
            let _ = child.start_kill();
        }
        for child in &mut self.children {
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
    }

    /// Waits until `count` sockets listen on the port (one a process), failing if a process exits first.
    async fn wait_until_listening(&mut self, count: usize) -> Result<()> {
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        loop {
            for child in &mut self.children {
                if let Some(status) = child.try_wait()? {
                    return Err(format!("haproxy exited at startup ({status}); see haproxy-scale-*.log").into());
                }
            }
            let tcp = std::fs::read_to_string("/proc/net/tcp")?;
            if listening_sockets(&tcp, self.addr.port()) >= count {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("{count} haproxy processes did not all listen within {STARTUP_TIMEOUT:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The loopback address HAProxy process `process` (from 1) connects to relay `relay` (from 0) from.
fn relay_source(process: usize, relay: usize) -> String {
    format!("127.200.{}.{}", process % 256, 1 + relay % 254)
}

/// `deploy/haproxy.cfg`'s settings for one process of several: the same timeouts, `leastconn`, health checks and
/// retries, with `maxconn` per process, one thread (the processes are the parallelism), no request log (a hundred
/// thousand tunnels would log as they close) and no stats page (its port could not be shared).
fn config_text(addr: SocketAddr, maxconn: usize, relays: &[SocketAddr], process: usize) -> String {
    let mut servers = String::new();
    for (index, relay) in relays.iter().enumerate() {
        let _ = writeln!(servers, "    server relay{} {relay} source {}", index + 1, relay_source(process, index));
    }
    format!(
        "# Written by `ferrocast-load scale` from deploy/haproxy.cfg's settings, for process {process} of several bound
# to the same port (SO_REUSEPORT).
global
    maxconn {maxconn}
    nbthread 1
    hard-stop-after 5s

defaults
    mode http
    option dontlognull
    maxconn {maxconn}
    timeout connect 5s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout client-fin 30s
    timeout server-fin 30s
    retries 3
    option redispatch 1

frontend ferrocast
    bind {addr}
    option forwardfor
    default_backend relays

backend relays
    balance leastconn
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 1s fall 2 rise 2
{servers}"
    )
}

/// Sockets in state LISTEN on local `port` in a /proc/net/tcp table.
fn listening_sockets(table: &str, port: u16) -> usize {
    let wanted = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1).unwrap_or("");
            let state = fields.nth(1).unwrap_or("");
            local.ends_with(&wanted) && state == "0A"
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_has_a_server_line_per_relay_each_from_its_own_address() {
        let relays: Vec<SocketAddr> = vec!["127.0.0.1:5001".parse().unwrap(), "127.0.0.1:5002".parse().unwrap()];
        let text = config_text("127.0.0.1:4000".parse().unwrap(), 9000, &relays, 3);
        assert!(text.contains("    server relay1 127.0.0.1:5001 source 127.200.3.1\n"));
        assert!(text.contains("    server relay2 127.0.0.1:5002 source 127.200.3.2\n"));
        assert!(text.contains("bind 127.0.0.1:4000") && text.contains("maxconn 9000") && text.contains("leastconn"));
    }

    #[test]
    fn listening_sockets_are_counted_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n\
                     0: 0100007F:0FA0 00000000:0000 0A 00000000:00000000\n\
                     1: 0100007F:0FA0 00000000:0000 0A 00000000:00000000\n\
                     2: 0100007F:0FA0 0100007F:C350 01 00000000:00000000\n\
                     3: 0100007F:0FA1 00000000:0000 0A 00000000:00000000\n";
        assert_eq!(listening_sockets(table, 4000), 2);
        assert_eq!(listening_sockets(table, 4002), 0);
    }
}
