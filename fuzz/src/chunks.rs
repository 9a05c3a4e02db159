//! Cutting a byte stream into the chunks a network might deliver it in.
//!
//! A reader of a stream must give the same result however its input is cut, so the `sse_reader` target feeds one
//! stream twice, whole and cut. Its input starts with two bytes that choose the cutting: the largest chunk and the
//! seed of the sizes. Both are ordinary input bytes, so libFuzzer explores cuttings as it explores streams.

/// The bytes before the stream: the largest chunk less one, and the seed of the chunk sizes.
pub const HEADER_LEN: usize = 2;

/// A stream and the cutting to feed it with, read from a fuzz input.
#[derive(Debug)]
pub struct Cut<'a> {
    /// The whole stream.
    pub stream: &'a [u8],
    /// The stream in chunks, some of them empty; joined, they are `stream`.
    pub chunks: Vec<&'a [u8]>,
}

impl<'a> Cut<'a> {
    /// Reads a fuzz input: the header, then the stream. `None` for an input shorter than the header.
    pub fn read(input: &'a [u8]) -> Option<Self> {
        let (&[largest, seed], stream) = input.split_first_chunk::<HEADER_LEN>()?;
        Some(Cut { stream, chunks: cut(stream, usize::from(largest) + 1, seed) })
    }
}

/// A fuzz input for `stream`, cut into chunks of at most `largest` bytes (1 to 256) with sizes from `seed`.
pub fn input(largest: usize, seed: u8, stream: &[u8]) -> Vec<u8> {
    let largest = u8::try_from(largest.clamp(1, 256) - 1).expect("clamped to 256");
    let mut input = vec![largest, seed];
    input.extend_from_slice(stream);
    input
}

/// Cuts `stream` into chunks of 0 to `largest` bytes. An empty chunk never follows another, so the cutting ends;
/// empty chunks are kept because a reader must not take one for the start of a stream, or for its end.
fn cut(stream: &[u8], largest: usize, seed: u8) -> Vec<&[u8]> {
    // xorshift32: any nonzero state works, and the multiplication spreads the 256 seeds over the state space.
    let mut state = (u32::from(seed) + 1).wrapping_mul(0x9e37_79b9);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut chunks = Vec::new();
    let mut rest = stream;
    let mut last_was_empty = false;
    while !rest.is_empty() {
        let mut size = next() as usize % (largest + 1);
        if size == 0 && last_was_empty {
            size = 1;
        }
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        chunks.push(chunk);
        last_was_empty = chunk.is_empty();
        rest = after;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chunks_make_up_the_stream() {
        let stream = b"event: x\ndata: y\n\n: a comment\r\ndata: z\r\r";
        for largest in [1, 2, 7, 256] {
            for seed in 0..=255 {
                let input = input(largest, seed, stream);
                let cut = Cut::read(&input).unwrap();
                assert_eq!(cut.stream, stream);
                assert_eq!(cut.chunks.concat(), stream);
                assert!(cut.chunks.iter().all(|chunk| chunk.len() <= largest));
                assert!(cut.chunks.windows(2).all(|pair| !(pair[0].is_empty() && pair[1].is_empty())));
            }
        }
    }

    #[test]
    fn an_input_shorter_than_the_header_is_no_stream() {
        assert!(Cut::read(&[3]).is_none());
        assert!(Cut::read(&[3, 4]).unwrap().chunks.is_empty());
    }
}
