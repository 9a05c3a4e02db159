//! A `--pubsub` URL as logs and errors show it: without its passwords, which would otherwise end up in every log
//! collector and terminal that sees a relay that cannot reach Redis.

/// What replaces a password.
const HIDDEN: &str = "***";

/// `url` with the password of its credentials (`user:password@`) and the values of query parameters that name a
/// password (`sentinel_password=`) hidden; the rest as given, so an operator can still tell which Redis it is.
pub(crate) fn shown_url(url: &str) -> String {
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (url, None),
    };
    let mut shown = match address.rsplit_once('@') {
        Some((credentials, hosts)) => match credentials.split_once("://") {
            Some((scheme, user_and_password)) => match user_and_password.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:{HIDDEN}@{hosts}"),
                None => address.to_owned(),
            },
            // No scheme: not a URL Redis reads, and whatever is before the `@` may be a password.
            None => format!("{HIDDEN}@{hosts}"),
        },
        None => address.to_owned(),
    };
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}={HIDDEN}"),
                _ => parameter.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&parameters.join("&"));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(shown_url("redis://127.0.0.1:6379/2"), "redis://127.0.0.1:6379/2");
        assert_eq!(shown_url("redis://:s3cret@127.0.0.1:6379"), "redis://:***@127.0.0.1:6379");
        assert_eq!(shown_url("rediss://app:p@ss:w@rd@10.0.0.7"), "rediss://app:***@10.0.0.7");
        assert_eq!(shown_url("redis://app@10.0.0.7"), "redis://app@10.0.0.7");
        assert_eq!(
            shown_url("redis+sentinel://:s3cret@h1,h2:26380/mymaster?sentinel_username=s&sentinel_password=x2"),
            "redis+sentinel://:***@h1,h2:26380/mymaster?sentinel_username=s&sentinel_password=***"
        );
        assert_eq!(shown_url("redis+cluster://:s3cret@[bad"), "redis+cluster://:***@[bad");
        assert_eq!(shown_url("s3cret@host"), "***@host");
    }
}
