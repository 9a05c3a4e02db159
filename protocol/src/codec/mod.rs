//! Frames to bytes and back. (Being written: see the codec task.)

use crate::frame::{Encoded, Frame, Sender, Vsn};

/// Why a frame could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The serializer has no way to express this frame.
    #[error("cannot encode: {0}")]
    Unrepresentable(&'static str),
}

/// Encodes a frame sent by `sender` with the serializer `vsn`.
pub fn encode(vsn: Vsn, sender: Sender, frame: &Frame) -> Result<Encoded, EncodeError> {
    let _ = (vsn, sender, frame);
    todo!("codec task")
}
