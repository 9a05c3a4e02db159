//! What a Redis server says of itself (`INFO`): the bytes it has sent and received, its CPU time, its pub/sub
//! channels. The scenarios on Redis read it before and after a window; its deltas are exact, where /proc's CPU
//! ticks are 10 ms.

use crate::Result;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one `INFO` may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The figures of `INFO` the scenarios compare.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Info {
    /// `total_net_output_bytes`: every byte Redis has written to its clients (PUBLISH messages, replies).
    pub output_bytes: u64,
    /// `total_net_input_bytes`: every byte its clients have written to it.
    pub input_bytes: u64,
    /// `used_cpu_user` + `used_cpu_sys`, in seconds: the server process's CPU time.
    pub cpu_seconds: f64,
    /// `pubsub_channels`: channels with at least one subscriber now.
    pub pubsub_channels: u64,
}

impl Info {
    /// The figures of an `INFO` reply's text (`field:value` lines); a missing field is 0.
    pub(crate) fn parse(text: &str) -> Info {
        let field = |name: &str| {
            text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')).map(str::trim).unwrap_or("0")
        };
        let float = |name: &str| field(name).parse::<f64>().unwrap_or(0.0);
        let integer = |name: &str| field(name).parse::<u64>().unwrap_or(0);
        Info {
            output_bytes: integer("total_net_output_bytes"),
            input_bytes: integer("total_net_input_bytes"),
            cpu_seconds: float("used_cpu_user") + float("used_cpu_sys"),
            pubsub_channels: integer("pubsub_channels"),
        }
    }
}

/// `INFO stats` and `INFO cpu` of the Redis at `addr`, on one connection of their own.
pub(crate) async fn read(addr: SocketAddr) -> Result<Info> {
    let reading = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let mut text = bulk_reply(&mut stream, "INFO stats").await?;
        text.push_str(&bulk_reply(&mut stream, "INFO cpu").await?);
        Ok::<_, crate::Error>(Info::parse(&text))
    };
    tokio::time::timeout(TIMEOUT, reading).await.map_err(|_| format!("Redis at {addr}: INFO took over {TIMEOUT:?}"))?
}

/// Sends the inline command `command` and reads its reply, a bulk string (`$LEN\r\n…\r\n`).
async fn bulk_reply(stream: &mut tokio::net::TcpStream, command: &str) -> Result<String> {
    stream.write_all(format!("{command}\r\n").as_bytes()).await?;
    let mut reply = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        if let Some(text) = complete_bulk(&reply)? {
            return Ok(text);
        }
        match stream.read(&mut chunk).await? {
            0 => return Err(format!("Redis closed the connection during `{command}`").into()),
            read => reply.extend_from_slice(&chunk[..read]),
        }
    }
}

/// The text of a complete bulk-string reply in `reply`, `None` while more is to come, or the error Redis gave.
fn complete_bulk(reply: &[u8]) -> Result<Option<String>> {
    let Some(header_end) = reply.windows(2).position(|pair| pair == b"\r\n") else { return Ok(None) };
    let header = String::from_utf8_lossy(&reply[..header_end]);
    let length: usize = match header.strip_prefix('$') {
        Some(length) => length.parse().map_err(|_| format!("Redis answered {header:?}"))?,
        None => return Err(format!("Redis answered {header:?}").into()),
    };
    let body = header_end + 2;
    Ok((reply.len() >= body + length).then(|| String::from_utf8_lossy(&reply[body..body + length]).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_and_bulk_replies() {
        let text = "# Stats\r\ntotal_net_input_bytes:1200\r\ntotal_net_output_bytes:987654321\r\npubsub_channels:61\r\n\
                    # CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.0\r\n";
        let info = Info::parse(text);
        assert_eq!((info.output_bytes, info.input_bytes, info.pubsub_channels), (987_654_321, 1200, 61));
        assert!((info.cpu_seconds - 3.75).abs() < 1e-9);
        assert_eq!(Info::parse(""), Info::default());
        assert_eq!(complete_bulk(b"$5\r\nab").unwrap(), None);
        assert_eq!(complete_bulk(b"$5\r\nabcde\r\n").unwrap().as_deref(), Some("abcde"));
        assert!(complete_bulk(b"-ERR unknown\r\n").is_err());
    }
}
