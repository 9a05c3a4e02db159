//! The byte boundary between the JavaScript layer and the machines: a call's arguments come in as one byte string
//! of typed values, its results go back as another, and the machines live in tables JavaScript holds handles to.
//!
//! Why bytes and not wasm-bindgen's classes: a generated class costs a wrapper in the glue and a shim in the wasm for
//! every method and every `Option<String>` argument, and records returned as a JavaScript array cost one call across
//! the boundary for each field. One entry point per machine, taking and returning bytes, costs one of each for the
//! whole machine, and a step's records cross at once. `client/js/boundary.js` writes and reads the other side.
//!
//! The bytes stay in two buffers of the wasm's memory, the mailbox, which JavaScript writes and reads in place
//! ([`arguments_at`], [`results_at`]): an entry point takes only numbers and returns one, so a call allocates
//! nothing on either side and copies nothing through the glue. Every frame a page receives is a call, so this is
//! the hot path. JavaScript reaches the memory through the glue's `wasmMemory()`, which the build adds to the glue
//! (`export_memory` in `xtask/src/client.rs`): the glue holds the wasm's exports, memory among them, and a
//! function of this crate returning it would hand out a JavaScript value, which costs a table and its shims.
//! Randomness (a socket id's 16 bytes) comes in as an argument, as the backoff's seed does, and the wasm imports
//! nothing but the lookup of the application's backoff functions (`machine.rs`), so the glue keeps no heap of
//! JavaScript objects. The client's CPU per message (`benches/browser/client-cpu.mjs`) is what holds this shape: the
//! first form, bytes through the glue as `&[u8]` and `Vec<u8>`, made it 2.9× (BENCHMARKS.md).
//!
//! A value is a kind byte and what that kind has (numbers little-endian):
//!
//! | kind | value | followed by |
//! | ---: | --- | --- |
//! | 0 | `undefined` (`None`) | |
//! | 1 | `null` | |
//! | 2, 3 | `false`, `true` | |
//! | 4 | a number | 8 bytes, an IEEE 754 double |
//! | 5 | a string | a 4-byte length, then that many bytes of UTF-8 |
//! | 6 | bytes (an `ArrayBuffer` in JavaScript) | a 4-byte length, then the bytes |
//!
//! The JavaScript layer is the only writer of what comes in, so a value of the wrong kind is its bug: it reads as
//! absent (`None`, `false`, an empty string), never as a panic. A string's bytes are taken as UTF-8 without a
//! check, as wasm-bindgen takes the strings its glue passes: JavaScript writes them with `TextEncoder`
//! ([`Input::text`]). That is the crate's one `unsafe` line (the crate denies `unsafe`, the rest of the workspace
//! forbids it); `client/tests/node/strings.test.mjs` holds JavaScript to the contract with lone surrogates.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

const UNDEFINED: u8 = 0;
const NULL: u8 = 1;
const FALSE: u8 = 2;
const TRUE: u8 = 3;
const NUMBER: u8 = 4;
const STRING: u8 = 5;
const BYTES: u8 = 6;

/// The mailbox: the last call's arguments, as JavaScript wrote them, and its results, as it reads them.
struct Mailbox {
    arguments: Vec<u8>,
    results: Vec<u8>,
}

thread_local! {
    static MAILBOX: RefCell<Mailbox> = const { RefCell::new(Mailbox { arguments: Vec::new(), results: Vec::new() }) };
}

/// Where JavaScript writes the next call's arguments, with room for at least `len` bytes; growing keeps the bytes
/// written so far, so JavaScript can ask for more room in the middle of a call's arguments.
#[wasm_bindgen(js_name = argumentsAt)]
#[allow(unreachable_pub, reason = "exported to JavaScript by wasm-bindgen, which needs it `pub`")]
pub fn arguments_at(len: u32) -> u32 {
    MAILBOX.with_borrow_mut(|mailbox| {
        let arguments = &mut mailbox.arguments;
        if arguments.len() < len as usize {
            arguments.resize((len as usize).max(2 * arguments.len()), 0);
        }
        arguments.as_mut_ptr() as u32
    })
}

/// Where the last call's results are (as many bytes as it returned).
#[wasm_bindgen(js_name = resultsAt)]
#[allow(unreachable_pub, reason = "exported to JavaScript by wasm-bindgen, which needs it `pub`")]
pub fn results_at() -> u32 {
    MAILBOX.with_borrow(|mailbox| mailbox.results.as_ptr() as u32)
}

/// One call of an entry point: `call` reads the `len` bytes of arguments JavaScript wrote and writes its results;
/// their length, for the entry point to return.
pub(crate) fn exchange(len: u32, call: impl FnOnce(&mut Input<'_>, &mut Output)) -> u32 {
    // Out of the mailbox while the call runs, so nothing borrows it then.
    let (arguments, results) = MAILBOX
        .with_borrow_mut(|mailbox| (std::mem::take(&mut mailbox.arguments), std::mem::take(&mut mailbox.results)));
    let mut input = Input::new(arguments.get(..len as usize).unwrap_or_default());
    let mut out = Output { bytes: results };
    out.bytes.clear();
    call(&mut input, &mut out);
    let len = out.bytes.len() as u32;
    MAILBOX.with_borrow_mut(|mailbox| {
        mailbox.arguments = arguments;
        mailbox.results = out.bytes;
    });
    len
}

/// A call's arguments, read in order.
#[derive(Debug)]
pub struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(bytes: &'a [u8]) -> Input<'a> {
        Input { rest: bytes }
    }

    /// A number, or `None` for `undefined`, `null` or another kind.
    pub fn number(&mut self) -> Option<f64> {
        let bytes = self.after(NUMBER, 8)?;
        let mut number = [0; 8];
        number.copy_from_slice(bytes);
        Some(f64::from_le_bytes(number))
    }

    /// `true` only for `true`.
    pub fn flag(&mut self) -> bool {
        let kind = self.kind();
        kind == Some(TRUE)
    }

    /// `Some` for `true` and `false`, `None` for anything else.
    pub fn maybe_flag(&mut self) -> Option<bool> {
        match self.kind()? {
            FALSE => Some(false),
            TRUE => Some(true),
            _ => None,
        }
    }

    /// A string, or `None` for `undefined`, `null` or another kind.
    pub fn text(&mut self) -> Option<&'a str> {
        let bytes = self.sized(STRING)?;
        // Not checked again here: the check is the module's only UTF-8 validator, 0.3 KB gzip of every entry.
        #[allow(unsafe_code)]
        // SAFETY: a string's bytes are UTF-8. `client/js/boundary.js` is the only writer of the mailbox, and it
        // writes a string only with `TextEncoder.encodeInto`, whose output is always UTF-8 (a lone surrogate
        // becomes U+FFFD) and always whole characters (room for all of them is made first); wasm-bindgen's glue
        // hands its own `&str` arguments over on the same terms. Code that could write other bytes here can
        // already write any byte of the module's memory, its exported `memory`.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    }

    /// Bytes, or `None` for `undefined`, `null` or another kind.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        self.sized(BYTES)
    }

    /// The next value's kind, taken; `None` past the end.
    fn kind(&mut self) -> Option<u8> {
        let (&kind, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(kind)
    }

    /// The `len` bytes after a value of `kind`; the value is taken whatever its kind.
    fn after(&mut self, kind: u8, len: usize) -> Option<&'a [u8]> {
        if self.kind()? != kind {
            return None;
        }
        let (value, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        Some(value)
    }

    /// The bytes of a length-prefixed value of `kind`.
    fn sized(&mut self, kind: u8) -> Option<&'a [u8]> {
        let len = self.after(kind, 4)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (value, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        Some(value)
    }
}

/// A call's results, written in order.
#[derive(Debug, Default)]
pub struct Output {
    bytes: Vec<u8>,
}

impl Output {
    /// Moves what `other` holds to the end of this one, leaving `other` empty.
    pub fn append(&mut self, other: &mut Output) {
        self.bytes.append(&mut other.bytes);
    }

    pub fn undefined(&mut self) {
        self.bytes.push(UNDEFINED);
    }

    pub fn null(&mut self) {
        self.bytes.push(NULL);
    }

    pub fn flag(&mut self, value: bool) {
        self.bytes.push(if value { TRUE } else { FALSE });
    }

    pub fn number(&mut self, value: f64) {
        self.bytes.push(NUMBER);
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// A number, or `null` for `None`.
    pub fn maybe(&mut self, value: Option<f64>) {
        match value {
            Some(value) => self.number(value),
            None => self.null(),
        }
    }

    pub fn text(&mut self, value: &str) {
        self.sized(STRING, value.as_bytes());
    }

    pub fn bytes(&mut self, value: &[u8]) {
        self.sized(BYTES, value);
    }

    fn sized(&mut self, kind: u8, value: &[u8]) {
        self.bytes.push(kind);
        self.bytes.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(value);
    }
}

/// The machines of one kind, by the handles JavaScript holds: a slot is reused once its machine is freed.
#[derive(Debug)]
pub(crate) struct Table<T> {
    slots: RefCell<Vec<Option<T>>>,
}

impl<T> Table<T> {
    pub(crate) const fn new() -> Table<T> {
        Table { slots: RefCell::new(Vec::new()) }
    }

    /// Keeps `machine`; its handle.
    pub(crate) fn insert(&self, machine: T) -> u32 {
        let mut slots = self.slots.borrow_mut();
        let mut handle = 0;
        while handle < slots.len() && slots[handle].is_some() {
            handle += 1;
        }
        if handle == slots.len() {
            slots.push(Some(machine));
        } else {
            slots[handle] = Some(machine);
        }
        handle as u32
    }

    /// `step` on the machine behind `handle`; `None` when there is none, or when it is in a call already (a
    /// `reconnectAfterMs` that calls its own socket), which JavaScript reports instead of the wasm trapping.
    pub(crate) fn with<R>(&self, handle: u32, step: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut slots = self.slots.try_borrow_mut().ok()?;
        let machine = slots.get_mut(handle as usize)?.as_mut()?;
        Some(step(machine))
    }

    /// Lets go of the machine behind `handle`.
    pub(crate) fn remove(&self, handle: u32) {
        if let Ok(mut slots) = self.slots.try_borrow_mut()
            && let Some(slot) = slots.get_mut(handle as usize)
        {
            *slot = None;
        }
    }
}
