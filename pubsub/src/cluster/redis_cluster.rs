//! A Redis Cluster (`redis+cluster://`, `rediss+cluster://`): its URL, and the connection for commands that the
//! rest of this module uses as it uses one to a single Redis.
//!
//! Every key of a topic carries the topic as its hash tag (see `keys.rs`), so a topic's meta, stream, push names
//! and publisher sequences live in one hash slot, on one master, and the publish script runs there whole. What
//! differs from a single Redis is kept here and in `subscription.rs`:
//! - a pipeline over several topics spans several slots, which no node takes in one go: [`ClusterLink`] sends it as
//!   one pipeline per slot, at once, and puts the answers back in order. A topic's commands stay in one of them, in
//!   their order, which is all the publisher's numbering needs (one relay's publishes of a topic arrive in order);
//! - the redis crate's cluster connection finds the masters, follows `MOVED` and reconnects to a node that went
//!   away; a connection that still fails with a broken link is dropped and made again at the next command, as the
//!   Sentinel link does.
//!
//! The URL form, as the `redis+sentinel://` one: `redis+cluster://[[user]:password@]host[:port][,host[:port]…]`,
//! a node's port 6379 when not given. The nodes listed are where the cluster's map is first asked for; the others
//! are found from it. Redis Cluster has one database, so the URL names none.

use super::endpoint::{decoded, host_and_port};
use redis::aio::ConnectionLike;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::Slot;
use redis::{Cmd, ErrorKind, PushInfo, RedisError, RedisResult, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// A node's port when the URL gives none.
const NODE_PORT: u16 = 6379;

/// How long a connection to a node may take to open.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the cluster's map may take to be read and its masters reached, when a connection is made.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A `redis+cluster://` URL, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterUrl {
    tls: bool,
    nodes: Vec<(String, u16)>,
    username: Option<String>,
    password: Option<String>,
}

impl std::fmt::Display for ClusterUrl {
    /// The URL without its credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "rediss+cluster" } else { "redis+cluster" };
        write!(f, "{scheme}://{}", self.nodes().join(","))
    }
}

impl ClusterUrl {
    /// `None` for a URL of another scheme; otherwise the URL read, or what is wrong with it.
    pub(crate) fn parse(url: &str) -> Option<Result<Self, String>> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("redis+cluster://") {
            (false, rest)
        } else {
            (true, url.strip_prefix("rediss+cluster://")?)
        };
        Some(ClusterUrl::parse_rest(tls, rest))
    }

    fn parse_rest(tls: bool, rest: &str) -> Result<Self, String> {
        const FORM: &str = "expected redis+cluster://[[user]:password@]host[:port][,host[:port]…]";
        if rest.contains(['?', '#']) {
            return Err(format!("no parameters are read ({FORM})"));
        }
        // A trailing slash is harmless; a path is a database, which a Redis Cluster does not have.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(format!("a Redis Cluster has one database: the URL names none ({FORM})"));
        }
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(userinfo) => match userinfo.split_once(':') {
                Some((username, password)) => (decoded(username)?, decoded(password)?),
                None => (decoded(userinfo)?, None),
            },
        };
        if hosts.is_empty() {
            return Err(format!("no node ({FORM})"));
        }
        let nodes = hosts
            .split(',')
            .map(|node| host_and_port(node, NODE_PORT).map_err(|error| format!("{error} ({FORM})")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClusterUrl { tls, nodes, username, password })
    }

    /// The nodes' addresses, as `host:port`.
    fn nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(host, port)| if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") })
            .collect()
    }

    /// The redis crate's builder for a client of these nodes; with TLS and `ca` (PEM), the nodes' certificates must
    /// chain to that CA.
    pub(crate) fn builder(&self, ca: Option<&[u8]>) -> ClusterClientBuilder {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let nodes: Vec<String> = self.nodes().into_iter().map(|node| format!("{scheme}://{node}")).collect();
        let mut builder = ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECTION_TIMEOUT)
            // Always a fresh attempt for the callers (they back off and try again), not a minute of the crate's.
            .retries(2);
        if let Some(username) = &self.username {
            builder = builder.username(username);
        }
        if let Some(password) = &self.password {
            builder = builder.password(password);
        }
        if self.tls {
            // As for rediss:// (client.rs): the first TLS link installs the process's provider.
            #[allow(deprecated)]
            let _ = rustls::crypto::ring::default_provider().install_default();
            if let Some(ca) = ca {
                builder = builder.certs(redis::TlsCertificates { client_tls: None, root_cert: Some(ca.to_vec()) });
            }
        }
        builder
    }
}

/// The nodes of a cluster, for the connections to it.
pub(crate) struct Nodes {
    pub(crate) url: ClusterUrl,
    ca: Option<Vec<u8>>,
}

impl Nodes {
    /// The nodes of `url`; the redis crate checks them (it refuses, say, nodes that disagree on TLS) before any is
    /// asked anything.
    pub(crate) fn new(url: ClusterUrl, ca: Option<&[u8]>) -> RedisResult<Self> {
        url.builder(ca).build()?;
        Ok(Nodes { url, ca: ca.map(<[u8]>::to_vec) })
    }

    /// A builder of clients of these nodes.
    pub(crate) fn builder(&self) -> ClusterClientBuilder {
        self.url.builder(self.ca.as_deref())
    }

    /// Reads the cluster's map and reaches its masters once: an error for nodes that do not answer, or a Redis that
    /// is no cluster.
    pub(crate) async fn check(&self) -> RedisResult<()> {
        let client = self.builder().build()?;
        match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection()).await {
            Ok(connection) => connection.map(drop),
            Err(_) => Err(not_answered()),
        }
    }

    /// A connection for subscriptions, and where what comes on them arrives: sharded pub/sub reaches the redis
    /// crate's cluster connection only as RESP3 pushes.
    pub(crate) async fn subscriber(&self) -> RedisResult<(ClusterConnection, mpsc::UnboundedReceiver<PushInfo>)> {
        let (pushes, pushed) = mpsc::unbounded_channel();
        let client = self
            .builder()
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(pushes)
            .response_timeout(CONNECT_TIMEOUT)
            .build()?;
        match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection()).await {
            Ok(connection) => Ok((connection?, pushed)),
            Err(_) => Err(not_answered()),
        }
    }

    /// A connection for commands, made at its first command (`response` is how long an answer may take).
    pub(crate) fn link(&self, response: Duration) -> RedisResult<ClusterLink> {
        let client = self.builder().response_timeout(response).build()?;
        Ok(ClusterLink { client, current: tokio::sync::Mutex::default(), made: AtomicU64::new(0) })
    }
}

/// Commands to a Redis Cluster, each routed to the master of its key's slot.
pub(crate) struct ClusterLink {
    client: ClusterClient,
    /// The connection, numbered; none until a command needs one, or after one failed with a broken link.
    current: tokio::sync::Mutex<Option<(u64, ClusterConnection)>>,
    made: AtomicU64,
}

impl ClusterLink {
    async fn connection(&self) -> RedisResult<(u64, ClusterConnection)> {
        let mut current = self.current.lock().await;
        if let Some((number, connection)) = &*current {
            return Ok((*number, connection.clone()));
        }
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_connection()).await {
            Ok(connection) => connection?,
            Err(_) => return Err(not_answered()),
        };
        let number = self.made.fetch_add(1, Ordering::Relaxed) + 1;
        *current = Some((number, connection.clone()));
        Ok((number, connection))
    }

    /// Drops connection `number` when `failed` says its links broke, so the next command makes another.
    async fn check(&self, number: u64, failed: Option<&RedisError>) {
        let Some(error) = failed
            .filter(|error| error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error())
        else {
            return;
        };
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|(current, _)| *current == number) {
            tracing::warn!(%error, "the link to the Redis Cluster failed: connecting again");
            *current = None;
        }
    }

    pub(crate) async fn command(&self, command: &Cmd) -> RedisResult<Value> {
        let (number, mut connection) = self.connection().await?;
        let answer = connection.req_packed_command(command).await;
        self.check(number, answer.as_ref().err()).await;
        answer
    }

    pub(crate) async fn commands(
        &self,
        pipeline: &redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let (number, mut connection) = self.connection().await?;
        let answers = match by_slot(pipeline) {
            // A transaction is one slot's by construction (one topic's keys); so is a pipeline of one topic.
            None => connection.req_packed_commands(pipeline, offset, count).await,
            // Not a transaction, so asked whole (offset 0, every command): each group is answered whole too.
            Some(groups) => {
                let sent = groups.iter().map(|(pipeline, _)| {
                    let mut connection = connection.clone();
                    async move { connection.req_packed_commands(pipeline, 0, pipeline.len()).await }
                });
                let answered = futures_util::future::join_all(sent).await;
                let mut answers = vec![Value::Nil; pipeline.len()];
                let mut failed = None;
                for (group, (_, places)) in answered.into_iter().zip(&groups) {
                    match group {
                        Ok(values) => {
                            for (answer, place) in values.into_iter().zip(places) {
                                answers[*place] = answer;
                            }
                        }
                        Err(error) => failed = failed.or(Some(error)),
                    }
                }
                match failed {
                    Some(error) => Err(error),
                    None => Ok(answers),
                }
            }
        };
        self.check(number, answers.as_ref().err()).await;
        answers
    }
}

fn not_answered() -> RedisError {
    let detail = format!("the cluster's nodes did not answer within {CONNECT_TIMEOUT:?}");
    RedisError::from((ErrorKind::Io, "no cluster", detail))
}

/// `pipeline`'s commands as one pipeline per slot, each with its commands' places in `pipeline`, in their order;
/// `None` for a transaction, or a pipeline whose commands are all of one slot (or of none). A command without a
/// key goes with the one before it.
fn by_slot(pipeline: &redis::Pipeline) -> Option<Vec<(redis::Pipeline, Vec<usize>)>> {
    if pipeline.is_transaction() {
        return None;
    }
    let mut groups: Vec<(redis::Pipeline, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<Slot, usize> = HashMap::new();
    let mut last = None;
    for (place, command) in pipeline.cmd_iter().enumerate() {
        let group = match key_of(command).map(Slot::for_key) {
            Some(slot) => *group_of.entry(slot).or_insert_with(|| {
                groups.push((redis::Pipeline::new(), Vec::new()));
                groups.len() - 1
            }),
            None => match last {
                Some(group) => group,
                None => {
                    groups.push((redis::Pipeline::new(), Vec::new()));
                    groups.len() - 1
                }
            },
        };
        groups[group].0.add_command(command.clone());
        groups[group].1.push(place);
        last = Some(group);
    }
    (groups.len() > 1).then_some(groups)
}

/// The key `command` is routed by: a script's first key, any other command's first argument.
fn key_of(command: &Cmd) -> Option<Vec<u8>> {
    let mut args = command.args_iter().map(|arg| match arg {
        redis::Arg::Simple(bytes) => bytes.to_vec(),
        _ => Vec::new(),
    });
    let name = args.next()?.to_ascii_uppercase();
    if matches!(name.as_slice(), b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO") {
        let _script = args.next()?;
        let keys: usize = std::str::from_utf8(&args.next()?).ok()?.parse().ok()?;
        return if keys > 0 { args.next() } else { None };
    }
    args.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> ClusterUrl {
        ClusterUrl::parse(url).expect("a cluster URL").unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    fn refused(url: &str) -> String {
        ClusterUrl::parse(url).expect("a cluster URL").expect_err(url)
    }

    #[test]
    fn reads_the_nodes_and_credentials() {
        let url = parsed("redis+cluster://:s3cret@10.0.0.1:7000,node-b,[::1]:7002/");
        assert_eq!(
            url,
            ClusterUrl {
                tls: false,
                nodes: vec![("10.0.0.1".into(), 7000), ("node-b".into(), 6379), ("::1".into(), 7002)],
                username: None,
                password: Some("s3cret".into()),
            }
        );
        assert_eq!(url.to_string(), "redis+cluster://10.0.0.1:7000,node-b:6379,[::1]:7002");
        let url = parsed("rediss+cluster://app:p%40ss@n1:1");
        assert!(url.tls);
        assert_eq!((url.username.as_deref(), url.password.as_deref()), (Some("app"), Some("p@ss")));
        assert!(!url.to_string().contains("p@ss"), "no credentials shown");
    }

    #[test]
    fn other_schemes_are_not_cluster_urls() {
        assert!(ClusterUrl::parse("redis://127.0.0.1:6379").is_none());
        assert!(ClusterUrl::parse("redis+sentinel://127.0.0.1/m").is_none());
    }

    #[test]
    fn says_what_is_wrong_with_a_malformed_url() {
        assert!(refused("redis+cluster://").contains("no node"));
        assert!(refused("redis+cluster://a:port").contains("\"port\" is not a port"));
        assert!(refused("redis+cluster://a:0").contains("\"0\" is not a port"));
        assert!(refused("redis+cluster://a:1,,b:2").contains("without a host"));
        assert!(refused("redis+cluster://[::1:7000").contains("no closing ]"));
        assert!(refused("redis+cluster://a:1/2").contains("one database"));
        assert!(refused("redis+cluster://a:1?x=1").contains("no parameters"));
    }

    #[test]
    fn a_pipeline_over_several_topics_is_split_by_slot_keeping_each_topics_order() {
        let mut pipe = redis::pipe();
        for (topic, n) in [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)] {
            pipe.cmd("EVALSHA").arg("sha").arg(2).arg(format!("ferrocast:{{{topic}}}:meta")).arg("x").arg(n);
        }
        pipe.cmd("TIME");
        let groups = by_slot(&pipe).expect("several slots");
        let places: Vec<&[usize]> = groups.iter().map(|(_, places)| places.as_slice()).collect();
        assert_eq!(places, [&[0, 2][..], &[1, 4, 5], &[3]], "a keyless command goes with the one before it");

        let mut one_topic = redis::pipe();
        one_topic.cmd("HGET").arg("ferrocast:{a}:meta").arg("epoch").cmd("XRANGE").arg("ferrocast:{a}:stream");
        assert!(by_slot(&one_topic).is_none());
        let mut transaction = redis::pipe();
        transaction.atomic().cmd("HGET").arg("x").arg("y").cmd("GET").arg("z");
        assert!(by_slot(&transaction).is_none());
        let mut keyless_script = redis::pipe();
        keyless_script.cmd("EVALSHA").arg("sha").arg(0).arg("argument");
        assert!(key_of(keyless_script.cmd_iter().next().unwrap()).is_none());
    }
}
