//! Where Redis is, for every link to it (this crate's, and the webhooks' queue on Redis in `ferrocast-hooks`): one
//! address (`redis://`, `rediss://`), or the master a set of Redis Sentinels names (`redis+sentinel://`,
//! `rediss+sentinel://`), asked again at every reconnect, since after a failover the old master is gone or has been
//! made a replica of the new one; or the nodes of a Redis Cluster (`redis+cluster://`, `rediss+cluster://`, see
//! `redis_cluster.rs`).
//!
//! - [`RedisEndpoint::client`] is the one place that yields a `redis::Client` for the Redis to use now: the same one
//!   every time for an address; for Sentinel, the master the sentinels name now (the redis crate's
//!   `SentinelClient`, which asks them in turn and checks with `ROLE` that the master it found is one).
//! - [`RedisLink`] is a connection for commands that comes back after it broke, as `ConnectionManager` does. For an
//!   address it *is* a `ConnectionManager`, exactly as before. For Sentinel, a connection that broke, timed out or
//!   was answered `READONLY` (a master demoted to replica) is dropped, and the next command asks the sentinels again;
//!   the command that failed fails, and its caller tries again as it does whenever Redis is away. For a cluster,
//!   each command goes to the master of its key's slot (see `redis_cluster.rs`).
//!
//! The URL form is the one of RedisVL, Redis-Sentinel-Url and Prefect:
//! `redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER[/DB][?sentinel_username=U&sentinel_password=P]`,
//! a sentinel's port 26379 when not given; the credentials and the database are the master's, the query's the
//! sentinels' own (when they require one). `rediss+sentinel://` speaks TLS to both, checked against `--redis-ca` or
//! the system's roots.

use super::client::redis_client;
use super::redis_cluster::{ClusterLink, ClusterUrl, Nodes};
use percent_encoding::percent_decode_str;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, ConnectionAddr, ErrorKind, RedisError, RedisFuture, RedisResult, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A sentinel's port when the URL gives none.
const SENTINEL_PORT: u16 = 26379;

/// The longest a look-up of the master may take, all sentinels together.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection to Redis (or a sentinel) may take to open.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// Where Redis is. Cheap to clone: clones share the sentinels' connections.
#[derive(Clone)]
pub struct RedisEndpoint {
    kind: Arc<Kind>,
}

// One per endpoint, behind its `Arc`: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Kind {
    Address(redis::Client),
    Sentinel(Sentinels),
    Cluster(Nodes),
}

/// The master a set of sentinels names.
struct Sentinels {
    /// Asks the sentinels; one look-up at a time (it caches a connection to each sentinel).
    client: tokio::sync::Mutex<SentinelClient>,
    url: SentinelUrl,
    /// The master the last look-up found, to tell when it changed.
    last: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for RedisEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.kind {
            Kind::Address(client) => write!(f, "RedisEndpoint({})", client.get_connection_info().addr()),
            Kind::Sentinel(sentinels) => write!(f, "RedisEndpoint({})", sentinels.url),
            Kind::Cluster(nodes) => write!(f, "RedisEndpoint({})", nodes.url),
        }
    }
}

impl RedisEndpoint {
    /// The endpoint of `url` (`redis://`, `rediss://`, `redis+sentinel://`, `rediss+sentinel://`,
    /// `redis+cluster://` or `rediss+cluster://`); with TLS and `ca` (PEM), the servers' certificates must chain to
    /// that CA. Reads the URL only: nothing is asked yet.
    pub fn open(url: &str, ca: Option<&[u8]>) -> RedisResult<Self> {
        if let Some(parsed) = ClusterUrl::parse(url) {
            let parsed = parsed.map_err(|malformed| {
                RedisError::from((ErrorKind::InvalidClientConfig, "malformed Redis Cluster URL", malformed))
            })?;
            return Ok(RedisEndpoint { kind: Arc::new(Kind::Cluster(Nodes::new(parsed, ca)?)) });
        }
        let kind = match SentinelUrl::parse(url) {
            None => Kind::Address(redis_client(url, ca)?),
            Some(Err(malformed)) => {
                return Err(RedisError::from((ErrorKind::InvalidClientConfig, "malformed Sentinel URL", malformed)));
            }
            Some(Ok(parsed)) => Kind::Sentinel(Sentinels {
                client: tokio::sync::Mutex::new(parsed.client(ca)?),
                url: parsed,
                last: std::sync::Mutex::default(),
            }),
        };
        Ok(RedisEndpoint { kind: Arc::new(kind) })
    }

    /// Whether the sentinels say where Redis is.
    pub fn is_sentinel(&self) -> bool {
        matches!(&*self.kind, Kind::Sentinel(_))
    }

    /// Whether Redis is a Redis Cluster: a topic's keys are on one master, and keys of several topics, or none,
    /// cannot be written together.
    pub fn is_cluster(&self) -> bool {
        matches!(&*self.kind, Kind::Cluster(_))
    }

    /// The cluster's nodes, for a cluster.
    pub(crate) fn cluster_nodes(&self) -> Option<&Nodes> {
        match &*self.kind {
            Kind::Cluster(nodes) => Some(nodes),
            _ => None,
        }
    }

    /// A client for the Redis to use now: for an address, always the same; for Sentinel, the master the sentinels
    /// name now (within [`LOOKUP_TIMEOUT`]), or why none could be found. A cluster has no one Redis: an error.
    pub async fn client(&self) -> RedisResult<redis::Client> {
        match &*self.kind {
            Kind::Address(client) => Ok(client.clone()),
            Kind::Sentinel(sentinels) => sentinels.master().await,
            Kind::Cluster(nodes) => Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "no one Redis",
                format!("{} is a Redis Cluster: its nodes are reached through its own client", nodes.url),
            ))),
        }
    }

    /// A connection for commands, made at its first command (`response` is how long an answer may take).
    pub fn link(&self, response: Duration) -> RedisResult<RedisLink> {
        match &*self.kind {
            Kind::Address(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_max_delay(Duration::from_secs(2))
                    .set_connection_timeout(Some(CONNECTION_TIMEOUT))
                    .set_response_timeout(Some(response));
                let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
                Ok(RedisLink(LinkKind::Address(manager)))
            }
            Kind::Sentinel(sentinels) => Ok(RedisLink(LinkKind::Master(Arc::new(MasterLink {
                endpoint: self.clone(),
                config: AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECTION_TIMEOUT))
                    .set_response_timeout(Some(response)),
                db: sentinels.url.db,
                current: tokio::sync::Mutex::default(),
                made: AtomicU64::new(0),
            })))),
            Kind::Cluster(nodes) => Ok(RedisLink(LinkKind::Cluster(Arc::new(nodes.link(response)?)))),
        }
    }
}

impl Sentinels {
    async fn master(&self) -> RedisResult<redis::Client> {
        let looked_up = tokio::time::timeout(LOOKUP_TIMEOUT, async {
            let mut client = self.client.lock().await;
            client.async_get_client().await
        })
        .await;
        let master = match looked_up {
            Ok(Ok(master)) => master,
            Ok(Err(error)) if error.kind() == ErrorKind::MasterNameNotFoundBySentinel => {
                let detail = format!(
                    "no sentinel of {} names a master {:?} that is up and says it is one",
                    self.url.sentinels(),
                    self.url.master
                );
                return Err(RedisError::from((ErrorKind::MasterNameNotFoundBySentinel, "no master", detail)));
            }
            Ok(Err(error)) => {
                let detail = format!(
                    "asking the sentinels {} for {:?} and checking the master they name: {error}",
                    self.url.sentinels(),
                    self.url.master
                );
                return Err(RedisError::from((error.kind(), "no master", detail)));
            }
            Err(_) => {
                let detail =
                    format!("the sentinels {} did not name a master within {LOOKUP_TIMEOUT:?}", self.url.sentinels());
                return Err(RedisError::from((ErrorKind::Io, "no master", detail)));
            }
        };
        let address = master.get_connection_info().addr().to_string();
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.as_deref() != Some(address.as_str()) {
            match last.as_deref() {
                None => tracing::info!(master = %address, name = %self.url.master, "the sentinels name the master"),
                Some(before) => tracing::warn!(
                    master = %address,
                    before,
                    name = %self.url.master,
                    "the sentinels name another master: a failover"
                ),
            }
            *last = Some(address);
        }
        Ok(master)
    }
}

/// A connection for commands to the Redis of a [`RedisEndpoint`], made again after it broke. Clones share it.
#[derive(Clone)]
pub struct RedisLink(LinkKind);

#[derive(Clone)]
enum LinkKind {
    /// An address: reconnects to it, as it always did.
    Address(ConnectionManager),
    /// The master the sentinels name.
    Master(Arc<MasterLink>),
    /// The masters of a cluster.
    Cluster(Arc<ClusterLink>),
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            LinkKind::Address(_) => f.write_str("RedisLink(address)"),
            LinkKind::Master(master) => write!(f, "RedisLink({:?})", master.endpoint),
            LinkKind::Cluster(_) => f.write_str("RedisLink(cluster)"),
        }
    }
}

struct MasterLink {
    endpoint: RedisEndpoint,
    config: AsyncConnectionConfig,
    db: i64,
    /// The connection to the master, numbered; none until a command needs one, or after one failed.
    current: tokio::sync::Mutex<Option<(u64, MultiplexedConnection)>>,
    /// How many connections were made.
    made: AtomicU64,
}

impl MasterLink {
    /// The connection to the master, made (after asking the sentinels) if there is none.
    async fn connection(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        // Held while the sentinels are asked: the other commands wait for that answer rather than ask too.
        let mut current = self.current.lock().await;
        if let Some((number, connection)) = &*current {
            return Ok((*number, connection.clone()));
        }
        let master = self.endpoint.client().await?;
        let connection = master.get_multiplexed_async_connection_with_config(&self.config).await?;
        let number = self.made.fetch_add(1, Ordering::Relaxed) + 1;
        *current = Some((number, connection.clone()));
        Ok((number, connection))
    }

    /// Drops connection `number` if `failed` says it is no longer one to the master, so the next command asks the
    /// sentinels again.
    async fn check(&self, number: u64, failed: Option<&RedisError>) {
        let Some(error) = failed.filter(|error| lost_the_master(error)) else { return };
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|(current, _)| *current == number) {
            tracing::warn!(%error, "the link to the Redis master failed: asking the sentinels again");
            *current = None;
        }
    }

    async fn command(&self, command: &Cmd) -> RedisResult<Value> {
        let (number, mut connection) = self.connection().await?;
        let answer = connection.req_packed_command(command).await;
        self.check(number, answer.as_ref().err()).await;
        answer
    }

    async fn commands(&self, pipeline: &redis::Pipeline, offset: usize, count: usize) -> RedisResult<Vec<Value>> {
        let (number, mut connection) = self.connection().await?;
        let answers = connection.req_packed_commands(pipeline, offset, count).await;
        // A pipeline's commands are answered one by one: an error among them is a value, not the pipeline's.
        let refused = match &answers {
            Ok(values) => values.iter().find_map(|value| match value {
                Value::ServerError(error) => Some(RedisError::from(error.clone())),
                _ => None,
            }),
            Err(error) => Some(error.clone()),
        };
        self.check(number, refused.as_ref()).await;
        answers
    }
}

/// Whether `error` means the connection no longer leads to a master: it broke or timed out, or the server is a
/// replica now (`READONLY`, also when a script's write met it).
fn lost_the_master(error: &RedisError) -> bool {
    let read_only =
        error.code() == Some("READONLY") || error.detail().is_some_and(|detail| detail.contains("READONLY"));
    read_only
        || error.is_io_error()
        || error.is_connection_dropped()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}

impl ConnectionLike for RedisLink {
    fn req_packed_command<'a>(&'a mut self, command: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.0 {
            LinkKind::Address(manager) => manager.req_packed_command(command),
            LinkKind::Master(master) => Box::pin(async move { master.command(command).await }),
            LinkKind::Cluster(cluster) => Box::pin(async move { cluster.command(command).await }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.0 {
            LinkKind::Address(manager) => manager.req_packed_commands(pipeline, offset, count),
            LinkKind::Master(master) => Box::pin(async move { master.commands(pipeline, offset, count).await }),
            LinkKind::Cluster(cluster) => Box::pin(async move { cluster.commands(pipeline, offset, count).await }),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            LinkKind::Address(manager) => manager.get_db(),
            LinkKind::Master(master) => master.db,
            LinkKind::Cluster(_) => 0,
        }
    }
}

/// A `redis+sentinel://` URL, read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SentinelUrl {
    tls: bool,
    sentinels: Vec<(String, u16)>,
    master: String,
    db: i64,
    username: Option<String>,
    password: Option<String>,
    sentinel_username: Option<String>,
    sentinel_password: Option<String>,
}

impl std::fmt::Display for SentinelUrl {
    /// The URL without its credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "rediss+sentinel" } else { "redis+sentinel" };
        write!(f, "{scheme}://{}/{}/{}", self.sentinels(), self.master, self.db)
    }
}

impl SentinelUrl {
    /// `None` for a URL of another scheme; otherwise the URL read, or what is wrong with it.
    fn parse(url: &str) -> Option<Result<Self, String>> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            (false, rest)
        } else {
            (true, url.strip_prefix("rediss+sentinel://")?)
        };
        Some(SentinelUrl::parse_rest(tls, rest))
    }

    fn parse_rest(tls: bool, rest: &str) -> Result<Self, String> {
        const FORM: &str = "expected redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER[/DB]";
        if rest.contains('#') {
            return Err(format!("a fragment is not read: the master's name goes in the path ({FORM})"));
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some((authority, path)) = rest.split_once('/') else {
            return Err(format!("no master name ({FORM})"));
        };
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
        let sentinels =
            hosts.split(',').map(|host| host_and_port(host, SENTINEL_PORT)).collect::<Result<Vec<_>, _>>()?;
        let mut path = path.trim_end_matches('/').split('/');
        let master = decoded(path.next().unwrap_or(""))?.ok_or_else(|| format!("no master name ({FORM})"))?;
        let db = match path.next() {
            None => 0,
            Some(db) => db
                .parse::<i64>()
                .ok()
                .filter(|db| *db >= 0)
                .ok_or_else(|| format!("{db:?} is not a database number"))?,
        };
        if let Some(extra) = path.next() {
            return Err(format!("{extra:?} after the database number ({FORM})"));
        }
        let mut url = SentinelUrl {
            tls,
            sentinels,
            master,
            db,
            username,
            password,
            sentinel_username: None,
            sentinel_password: None,
        };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sentinel_username" => url.sentinel_username = decoded(value)?,
                "sentinel_password" => url.sentinel_password = decoded(value)?,
                other => {
                    return Err(format!(
                        "unknown parameter {other:?} (sentinel_username and sentinel_password are read)"
                    ));
                }
            }
        }
        Ok(url)
    }

    /// The sentinels' addresses, as `host:port,host:port`.
    fn sentinels(&self) -> String {
        let addresses: Vec<String> = self
            .sentinels
            .iter()
            .map(|(host, port)| if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") })
            .collect();
        addresses.join(",")
    }

    /// The redis crate's client for these sentinels and this master.
    fn client(&self, ca: Option<&[u8]>) -> RedisResult<SentinelClient> {
        let addresses = self.sentinels.iter().map(|(host, port)| match self.tls {
            false => ConnectionAddr::Tcp(host.clone(), *port),
            true => ConnectionAddr::TcpTls { host: host.clone(), port: *port, insecure: false, tls_params: None },
        });
        let mut builder = SentinelClientBuilder::new(addresses, &self.master, SentinelServerType::Master)?
            .set_client_to_redis_db(self.db);
        if let Some(username) = &self.username {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = &self.password {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(username) = &self.sentinel_username {
            builder = builder.set_client_to_sentinel_username(username);
        }
        if let Some(password) = &self.sentinel_password {
            builder = builder.set_client_to_sentinel_password(password);
        }
        if self.tls {
            // As for rediss:// (client.rs): the first TLS link installs the process's provider.
            #[allow(deprecated)]
            let _ = rustls::crypto::ring::default_provider().install_default();
            builder = builder.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
            if let Some(ca) = ca {
                let certificates = || redis::TlsCertificates { client_tls: None, root_cert: Some(ca.to_vec()) };
                builder = builder
                    .set_client_to_redis_certificates(certificates())
                    .set_client_to_sentinel_certificates(certificates());
            }
        }
        builder.build()
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `default` when no port is given.
pub(super) fn host_and_port(address: &str, default: u16) -> Result<(String, u16), String> {
    let port =
        |port: &str| port.parse::<u16>().ok().filter(|port| *port > 0).ok_or_else(|| format!("{port:?} is not a port"));
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(|| format!("{address:?}: no closing ]"))?;
        match after {
            "" => (host, default),
            after => (host, port(after.strip_prefix(':').ok_or_else(|| format!("{address:?} is not host:port"))?)?),
        }
    } else {
        match address.split_once(':') {
            None => (address, default),
            Some((host, given)) => (host, port(given)?),
        }
    };
    if host.is_empty() {
        return Err(format!("a node without a host in {address:?}"));
    }
    Ok((host.to_owned(), port))
}

/// `text`, percent-decoded; `None` when empty.
pub(super) fn decoded(text: &str) -> Result<Option<String>, String> {
    let text = percent_decode_str(text).decode_utf8().map_err(|_| format!("{text:?} is not UTF-8 once decoded"))?;
    Ok((!text.is_empty()).then(|| text.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> SentinelUrl {
        SentinelUrl::parse(url).expect("a Sentinel URL").unwrap_or_else(|error| panic!("{url}: {error}"))
    }

    fn refused(url: &str) -> String {
        SentinelUrl::parse(url).expect("a Sentinel URL").expect_err(url)
    }

    #[test]
    fn reads_the_sentinels_the_master_its_database_and_credentials() {
        let url = parsed("redis+sentinel://:s3cret@10.0.0.1:26380,sentinel-b,[::1]:26381/mymaster/2");
        assert_eq!(
            url,
            SentinelUrl {
                tls: false,
                sentinels: vec![("10.0.0.1".into(), 26380), ("sentinel-b".into(), 26379), ("::1".into(), 26381)],
                master: "mymaster".into(),
                db: 2,
                username: None,
                password: Some("s3cret".into()),
                sentinel_username: None,
                sentinel_password: None,
            }
        );
        assert_eq!(url.to_string(), "redis+sentinel://10.0.0.1:26380,sentinel-b:26379,[::1]:26381/mymaster/2");

        let url = parsed("rediss+sentinel://app:p%40ss@s1:1/main/?sentinel_username=watch&sentinel_password=w%26tch");
        assert!(url.tls);
        assert_eq!((url.username.as_deref(), url.password.as_deref()), (Some("app"), Some("p@ss")));
        assert_eq!(
            (url.sentinel_username.as_deref(), url.sentinel_password.as_deref()),
            (Some("watch"), Some("w&tch"))
        );
        assert_eq!((url.master.as_str(), url.db), ("main", 0));
        assert!(!url.to_string().contains("p@ss") && !format!("{url}").contains("w&tch"), "no credentials shown");
    }

    #[test]
    fn other_schemes_are_not_sentinel_urls() {
        assert!(SentinelUrl::parse("redis://127.0.0.1:6379").is_none());
        assert!(SentinelUrl::parse("rediss://127.0.0.1:6379").is_none());
        assert!(SentinelUrl::parse("redis+cluster://127.0.0.1").is_none());
    }

    #[test]
    fn says_what_is_wrong_with_a_malformed_url() {
        assert!(refused("redis+sentinel://127.0.0.1:26379").contains("no master name"));
        assert!(refused("redis+sentinel://127.0.0.1:26379/").contains("no master name"));
        assert!(refused("redis+sentinel://127.0.0.1:port/m").contains("\"port\" is not a port"));
        assert!(refused("redis+sentinel://127.0.0.1:0/m").contains("\"0\" is not a port"));
        assert!(refused("redis+sentinel://a:1,,b:2/m").contains("without a host"));
        assert!(refused("redis+sentinel://[::1/m").contains("no closing ]"));
        assert!(refused("redis+sentinel://a:1/m/x").contains("\"x\" is not a database number"));
        assert!(refused("redis+sentinel://a:1/m/1/2").contains("after the database number"));
        assert!(refused("redis+sentinel://a:1/m?db=2").contains("unknown parameter \"db\""));
        assert!(refused("redis+sentinel://a:1#m").contains("fragment"));
    }

    #[test]
    fn a_malformed_url_is_an_error_of_the_endpoint_not_a_panic() {
        let error = RedisEndpoint::open("redis+sentinel://127.0.0.1:26379", None).expect_err("no master");
        assert!(error.to_string().contains("no master name"), "{error}");
        let endpoint = RedisEndpoint::open("redis+sentinel://127.0.0.1:26379/mymaster", None).expect("well formed");
        assert!(endpoint.is_sentinel());
        assert!(!RedisEndpoint::open("redis://127.0.0.1:6379", None).expect("an address").is_sentinel());
        let error = RedisEndpoint::open("redis+cluster://127.0.0.1:7000/0", None).expect_err("a database");
        assert!(error.to_string().contains("one database"), "{error}");
        let endpoint = RedisEndpoint::open("rediss+cluster://127.0.0.1:7000,127.0.0.1:7001", None).expect("nodes");
        assert!(endpoint.is_cluster() && !endpoint.is_sentinel());
        assert!(!RedisEndpoint::open("redis://127.0.0.1:6379", None).expect("an address").is_cluster());
    }

    #[test]
    fn a_write_refused_by_a_replica_or_a_broken_connection_means_asking_again() {
        let read_only = RedisError::from((
            ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
            "READONLY",
            "You can't write against a read only replica.".to_owned(),
        ));
        assert!(lost_the_master(&read_only));
        let in_script = RedisError::from((
            ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "ERR",
            "Error running script: READONLY You can't write against a read only replica.".to_owned(),
        ));
        assert!(lost_the_master(&in_script));
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(lost_the_master(&io));
        let no_script = RedisError::from((
            ErrorKind::Server(redis::ServerErrorKind::NoScript),
            "NOSCRIPT",
            "No matching script.".to_owned(),
        ));
        assert!(!lost_the_master(&no_script), "an answer from the master");
    }
}
