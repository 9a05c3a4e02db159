//! What the session tests share.

use ferrocast_pubsub::Outbox;

/// Everything the session sent so far, as text.
pub(crate) async fn sent(outbox: &Outbox) -> Vec<String> {
    let mut batch = Vec::new();
    if !outbox.is_empty() {
        outbox.next_batch(&mut batch).await.expect("open");
    }
    batch.into_iter().map(|frame| String::from_utf8(frame.contiguous().to_vec()).expect("text")).collect()
}
