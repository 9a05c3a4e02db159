//! The byte boundary between the JavaScript layer and the machines: a call's arguments come in as one byte string
//! of typed values, its results go back as another, and the machines live in tables JavaScript holds handles to.
//!
//! Why bytes and not wasm-bindgen's classes: a generated class costs a wrapper in the glue and a shim in the wasm for
//! every method and every `Option<String>` argument, and records returned as a JavaScript array cost one call across
//! the boundary for each field. One entry point per machine, taking and returning bytes, costs one of each for the
//! whole machine, and a step's records cross in one copy. `client/js/boundary.js` writes and reads the other side.
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
//! absent (`None`, `false`, an empty string), never as a panic.

use std::cell::RefCell;

const UNDEFINED: u8 = 0;
const NULL: u8 = 1;
const FALSE: u8 = 2;
const TRUE: u8 = 3;
const NUMBER: u8 = 4;
const STRING: u8 = 5;
const BYTES: u8 = 6;

/// A call's arguments, read in order.
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
        std::str::from_utf8(bytes).ok()
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
#[derive(Default)]
pub struct Output {
    bytes: Vec<u8>,
}

impl Output {
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
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

    /// A string, or `undefined` for `None`.
    pub fn maybe_text(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.text(value),
            None => self.bytes.push(UNDEFINED),
        }
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
pub struct Table<T> {
    slots: RefCell<Vec<Option<T>>>,
}

impl<T> Table<T> {
    pub const fn new() -> Table<T> {
        Table { slots: RefCell::new(Vec::new()) }
    }

    /// Keeps `machine`; its handle.
    pub fn insert(&self, machine: T) -> u32 {
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
    pub fn with<R>(&self, handle: u32, step: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut slots = self.slots.try_borrow_mut().ok()?;
        let machine = slots.get_mut(handle as usize)?.as_mut()?;
        Some(step(machine))
    }

    /// Lets go of the machine behind `handle`.
    pub fn remove(&self, handle: u32) {
        if let Ok(mut slots) = self.slots.try_borrow_mut()
            && let Some(slot) = slots.get_mut(handle as usize)
        {
            *slot = None;
        }
    }
}
