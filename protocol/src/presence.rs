//! Presence. (Being written: see the presence task.)
