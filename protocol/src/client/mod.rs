//! The client state machine. (Being written.)
