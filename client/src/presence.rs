//! `PresenceMachine`: the protocol's presence tracker, which `client/js/presence.js` (the `Presence` class, through
//! `client/js/presence-machine.js`) drives through the entry point of the machines JavaScript holds (`held.rs`).
//!
//! The JavaScript class owns the channel bindings, the callbacks and every object the server sent; this side owns
//! the rules (`ferrocast_protocol::presence`: merging states and diffs, what joined and left, the order of keys
//! and callbacks, diffs held while the channel's join ref differs). The tracker carries a meta, or an entry with
//! fields besides `metas`, as a handle: a number the JavaScript class keeps the object under, so the objects
//! callbacks and `list` see are the very ones the server sent, and none crosses the boundary.
//!
//! A payload goes in flattened ([`Flat`]): its keys and `phx_ref`s one after another in one string, its shape and
//! handles in one run of numbers. What handling it did comes out as one run of records (a tag, then that tag's
//! fields, listed in [`Tag`]) with the keys they name in one string ([`PresenceMachine::names`]). The records end
//! with the handles the tracker let go of, which the JavaScript class forgets. The numbers cross the boundary
//! (`boundary.rs`) as bytes, four to a number, little-endian, a `Uint32Array` in JavaScript: a state of thousands
//! of keys is tens of thousands of them, one copy instead of one typed value each.

use ferrocast_protocol::presence::{Changes, Diff, Entry, Meta, Presence, State};

use crate::boundary::{Input, Output};

/// The first number of each record [`PresenceMachine::frame`] returns. A key is its length in UTF-16 units, the
/// string being the next one in [`PresenceMachine::names`]; an entry is its extra fields' handle (0 for none), its
/// number of metas and their handles.
#[repr(u32)]
enum Tag {
    /// `key, current, joined`: metas joined a key that had an entry (phoenix.js's `onJoin`).
    Join = 0,
    /// `key, joined`: a key joined that had none (`onJoin` with `undefined` as the current entry).
    JoinNew = 1,
    /// `key, current, left`: metas left a key (`onLeave`).
    Leave = 2,
    /// The state is consistent again (`onSync`).
    Sync = 3,
    /// `handle`: the tracker holds the object under it no more; it comes after every other record.
    Free = 4,
}

/// One channel's presences, as the JavaScript `Presence` holds them.
#[derive(Debug, Default)]
pub struct PresenceMachine {
    presence: Presence<u32>,
    /// The handles of the diffs the tracker holds until the next state.
    held: Vec<u32>,
    /// Scratch marks, by handle, for telling which handles a frame let go of (all false between calls).
    marks: Vec<bool>,
    /// The keys the last records or list name, one after another.
    names: String,
}

/// The operations of a tracker, on the entry point of the machines JavaScript holds (`held.rs`, which numbers the
/// operations of its machines apart): each takes the arguments listed with it and returns what it says.
pub mod op {
    /// A tracker with no presences, waiting for its first state; its handle (the one given is not read).
    pub const NEW: u8 = 21;
    /// `diff, joinRef, text, shape`: [`super::PresenceMachine::frame`], `shape` as bytes; the keys the records
    /// name, then the records as bytes.
    pub const FRAME: u8 = 22;
    /// [`super::PresenceMachine::list`]: the keys, then the records as bytes.
    pub const LIST: u8 = 23;
    /// `joinRef`: [`super::PresenceMachine::pending`].
    pub const PENDING: u8 = 24;
}

impl PresenceMachine {
    /// Operation `op` (see [`op`]) with its arguments; its results.
    pub fn step(&mut self, op: u8, input: &mut Input<'_>, out: &mut Output) {
        // Plain loops: iterator adapters over the bytes cost the module more than they save here.
        let records = |out: &mut Output, machine: &mut PresenceMachine, records: Vec<u32>| {
            out.text(&machine.names());
            let mut bytes = Vec::with_capacity(4 * records.len());
            for number in records {
                bytes.extend_from_slice(&number.to_le_bytes());
            }
            out.bytes(&bytes);
        };
        match op {
            op::FRAME => {
                let diff = input.flag();
                let join_ref = input.text().unwrap_or_default();
                let text = input.text().unwrap_or_default();
                let frame = self.frame(diff, join_ref, text, input.bytes().unwrap_or_default());
                records(out, self, frame);
            }
            op::LIST => {
                let list = self.list();
                records(out, self, list);
            }
            op::PENDING => out.flag(self.pending(input.text().unwrap_or_default())),
            _ => {}
        }
    }
}

impl PresenceMachine {
    /// A tracker with no presences, waiting for its first state.
    pub fn new() -> PresenceMachine {
        PresenceMachine::default()
    }

    /// Handles a `presence_state` payload, or a `presence_diff` one (`diff`: its joins, then its leaves), flattened
    /// into `text` and `shape` (see [`Flat`]; `shape` as the bytes of its numbers), with the channel's current join ref. Returns the records (see
    /// [`Tag`]): none for a diff held until the next state.
    ///
    /// A join ref is `""` for none, which the tracker treats alike (JavaScript holds `""` false).
    pub fn frame(&mut self, diff: bool, join_ref: &str, text: &str, shape: &[u8]) -> Vec<u32> {
        let join_ref = Some(join_ref);
        let mut flat = Flat { text, shape, at: 0, handles: Vec::new() };
        self.names.clear();
        let mut records = Records { out: Vec::new(), names: &mut self.names, changed: Vec::new() };
        let mut before = Vec::new();
        if diff {
            let diff = Diff { joins: flat.entries(), leaves: flat.entries() };
            if self.presence.is_pending(join_ref) {
                self.held.append(&mut flat.handles);
                self.presence.handle_diff_into(join_ref, diff, &mut records);
                return Vec::new();
            }
            for (key, _) in diff.joins.iter().chain(&diff.leaves) {
                handles(&mut before, self.presence.state().get(key));
            }
            self.presence.handle_diff_into(join_ref, diff, &mut records);
        } else {
            let state: State<u32> = flat.entries().into_iter().collect();
            before.append(&mut self.held);
            for (_, entry) in self.presence.state().iter() {
                handles(&mut before, Some(entry));
            }
            self.presence.handle_state_into(join_ref, state, &mut records);
        }
        before.append(&mut flat.handles);

        // What the tracker still holds of what the frame touched: after a diff, the entries of the keys it
        // changed (a key it names without a change has no entry); after a state, every entry.
        let mut kept = Vec::new();
        if diff {
            for key in &records.changed {
                handles(&mut kept, self.presence.state().get(key));
            }
        } else {
            for (_, entry) in self.presence.state().iter() {
                handles(&mut kept, Some(entry));
            }
        }
        let mut out = records.out;
        self.free(&mut out, &kept, before);
        out
    }

    /// The keys the last records or list name, one after another (each record gives its key's length).
    pub fn names(&mut self) -> String {
        std::mem::take(&mut self.names)
    }

    /// The presences in phoenix.js's order, each a key and an entry as the records write them.
    pub fn list(&mut self) -> Vec<u32> {
        self.names.clear();
        let mut out = Vec::new();
        for (key, found) in self.presence.state().iter() {
            name(&mut out, &mut self.names, key);
            entry(&mut out, found);
        }
        out
    }

    /// Whether diffs are held now (no state yet, or the channel has rejoined since the last one), for the
    /// channel's current join ref.
    pub fn pending(&self, join_ref: &str) -> bool {
        self.presence.is_pending(Some(join_ref))
    }
}

impl PresenceMachine {
    /// Writes a [`Tag::Free`] record for each handle of `before` (what the frame touched, and the handles it
    /// brought) that is not in `kept`, once each.
    fn free(&mut self, out: &mut Vec<u32>, kept: &[u32], before: Vec<u32>) {
        let marks = &mut self.marks;
        let mut mark = |handle: u32| {
            let at = handle as usize;
            if at >= marks.len() {
                marks.resize(at + 1, false);
            }
            !std::mem::replace(&mut marks[at], true)
        };
        for &handle in kept {
            mark(handle);
        }
        let mut freed = Vec::new();
        for handle in before {
            if mark(handle) {
                out.extend([Tag::Free as u32, handle]);
                freed.push(handle);
            }
        }
        for handle in kept.iter().chain(&freed) {
            self.marks[*handle as usize] = false;
        }
    }
}

/// The records of a frame, written as the tracker reports each change (see [`Tag`]), with the keys they name and
/// the keys that changed.
struct Records<'a> {
    out: Vec<u32>,
    names: &'a mut String,
    changed: Vec<String>,
}

impl Changes<u32> for Records<'_> {
    fn join(&mut self, key: String, current: Option<Entry<u32>>, joined: Entry<u32>) {
        self.out.push((if current.is_some() { Tag::Join } else { Tag::JoinNew }) as u32);
        name(&mut self.out, self.names, &key);
        if let Some(current) = &current {
            entry(&mut self.out, current);
        }
        entry(&mut self.out, &joined);
        self.changed.push(key);
    }

    fn leave(&mut self, key: String, current: &Entry<u32>, left: Entry<u32>) {
        self.out.push(Tag::Leave as u32);
        name(&mut self.out, self.names, &key);
        entry(&mut self.out, current);
        entry(&mut self.out, &left);
        self.changed.push(key);
    }

    fn sync(&mut self) {
        self.out.push(Tag::Sync as u32);
    }
}

/// The handles of an entry, if there is one: its extra fields' and its metas'.
fn handles(into: &mut Vec<u32>, entry: Option<&Entry<u32>>) {
    if let Some(entry) = entry {
        into.extend(entry.extra);
        for meta in &entry.metas {
            into.push(meta.value);
        }
    }
}

/// Writes a key: its length in UTF-16 units into the records, the key into the names.
fn name(out: &mut Vec<u32>, names: &mut String, key: &str) {
    let mut units = 0;
    for &byte in key.as_bytes() {
        units += utf16_units(byte);
    }
    out.push(units as u32);
    names.push_str(key);
}

/// The UTF-16 units (JavaScript's string length) that a byte of UTF-8 adds: one for the first byte of a character,
/// two for that of a four-byte one, none for the rest. Counted by bytes, so the module has no UTF-8 decoder.
fn utf16_units(byte: u8) -> usize {
    match byte {
        0x80..0xC0 => 0,
        0xF0.. => 2,
        _ => 1,
    }
}

/// Writes an entry: its extra fields' handle (0 for none), its number of metas, their handles.
fn entry(out: &mut Vec<u32>, entry: &Entry<u32>) {
    out.extend([entry.extra.unwrap_or(0), entry.metas.len() as u32]);
    for meta in &entry.metas {
        out.push(meta.value);
    }
}

/// A presence payload as `presence.js` flattens it: each presence object (a state; a diff's joins, then its
/// leaves) is its number of keys, then for each key its length, its extra fields' handle (0 for none) and its
/// number of metas, then for each meta its handle and its `phx_ref`'s length. Lengths are in UTF-16 units, the
/// strings themselves one after another in `text`: each key, then its metas' `phx_ref`s. Numbers missing read as
/// 0, so a short shape reads as fewer entries rather than failing.
struct Flat<'a> {
    text: &'a str,
    /// The numbers, four bytes each, little-endian.
    shape: &'a [u8],
    at: usize,
    /// Every handle read, in order.
    handles: Vec<u32>,
}

impl Flat<'_> {
    fn number(&mut self) -> u32 {
        let number = self.shape.get(self.at..self.at + 4).map_or(0, |n| u32::from_le_bytes([n[0], n[1], n[2], n[3]]));
        self.at += 4;
        number
    }

    /// The next string of `text`, its length given in UTF-16 units.
    fn string(&mut self) -> String {
        let mut units = self.number() as usize;
        let bytes = self.text.as_bytes();
        // Up to the first byte of the character that no unit is left for, or the end.
        let mut end = 0;
        while end < bytes.len() && (units > 0 || utf16_units(bytes[end]) == 0) {
            units = units.saturating_sub(utf16_units(bytes[end]));
            end += 1;
        }
        let (string, rest) = self.text.split_at_checked(end).unwrap_or((self.text, ""));
        self.text = rest;
        string.to_owned()
    }

    fn handle(&mut self) -> u32 {
        let handle = self.number();
        self.handles.push(handle);
        handle
    }

    /// The next presence object, its keys with their entries.
    fn entries(&mut self) -> Vec<(String, Entry<u32>)> {
        // Plain loops: iterator adapters over the shape cost the module more than they save here.
        let mut entries = Vec::new();
        for _ in 0..self.number() {
            let key = self.string();
            let extra = self.number();
            let mut metas = Vec::new();
            for _ in 0..self.number() {
                let handle = self.handle();
                metas.push(Meta { phx_ref: self.string(), value: handle });
            }
            let extra = (extra != 0).then_some(extra);
            self.handles.extend(extra);
            entries.push((key, Entry { metas, extra }));
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::PresenceMachine;

    /// A presence object: keys with their extra fields' handle and their metas' handles and `phx_ref`s.
    type Object<'a> = &'a [(&'a str, u32, &'a [(u32, &'a str)])];

    /// A shape as the machine takes it.
    fn bytes(shape: &[u32]) -> Vec<u8> {
        shape.iter().flat_map(|number| number.to_le_bytes()).collect()
    }

    /// A presence object for the machine, from `(key, extra, [(handle, phx_ref)])`, appended to `text` and `shape`.
    fn put(text: &mut String, shape: &mut Vec<u32>, object: Object<'_>) {
        shape.push(object.len() as u32);
        for (key, extra, metas) in object {
            text.push_str(key);
            shape.extend([key.encode_utf16().count() as u32, *extra, metas.len() as u32]);
            for (handle, phx_ref) in *metas {
                text.push_str(phx_ref);
                shape.extend([*handle, phx_ref.encode_utf16().count() as u32]);
            }
        }
    }

    fn state(machine: &mut PresenceMachine, join_ref: &str, object: Object<'_>) -> Vec<u32> {
        let (mut text, mut shape) = (String::new(), Vec::new());
        put(&mut text, &mut shape, object);
        machine.frame(false, join_ref, &text, &bytes(&shape))
    }

    fn diff(machine: &mut PresenceMachine, join_ref: &str, joins: Object<'_>, leaves: Object<'_>) -> Vec<u32> {
        let (mut text, mut shape) = (String::new(), Vec::new());
        put(&mut text, &mut shape, joins);
        put(&mut text, &mut shape, leaves);
        machine.frame(true, join_ref, &text, &bytes(&shape))
    }

    /// The handles of the free records, read record by record.
    fn freed(out: &[u32]) -> Vec<u32> {
        let mut freed = Vec::new();
        let mut at = 0;
        let entry = |at: &mut usize| *at += 2 + out[*at + 1] as usize;
        while at < out.len() {
            let tag = out[at];
            at += 1;
            match tag {
                0 | 2 => {
                    at += 1;
                    entry(&mut at);
                    entry(&mut at);
                }
                1 => {
                    at += 1;
                    entry(&mut at);
                }
                3 => {}
                4 => {
                    freed.push(out[at]);
                    at += 1;
                }
                _ => panic!("tag {tag}"),
            }
        }
        freed
    }

    #[test]
    fn records_name_keys_and_entries_by_handle() {
        let mut machine = PresenceMachine::new();
        let out = state(&mut machine, "1", &[("ünï", 0, &[(1, "a")]), ("7", 2, &[(3, "b"), (4, "c")])]);
        // The array index first, as JavaScript lists it; then sync.
        assert_eq!(out, [1, 1, 2, 2, 3, 4, 1, 3, 0, 1, 1, 3]);
        assert_eq!(machine.names(), "7ünï");
        let out = diff(&mut machine, "1", &[("7", 0, &[(5, "c")])], &[("ünï", 0, &[(6, "a")])]);
        assert_eq!(
            out,
            [
                0, 1, 2, 2, 3, 4, 0, 1, 5, // join 7: current {extra 2, [3, 4]}, joined {[5]}
                2, 3, 0, 0, 0, 1, 6, // leave ünï: current {[]}, left {[6]}
                3, // sync
                4, 2, 4, 4, 4, 1, 4,
                6, // free: the replaced extra, c's first meta, the meta that left, the diff's own
            ]
        );
        assert_eq!(machine.names(), "7ünï");
        assert_eq!(machine.list(), [1, 0, 2, 3, 5]);
        assert_eq!(machine.names(), "7");
    }

    /// Lengths are JavaScript's, in UTF-16 units, whatever the characters' sizes in UTF-8 (one to four bytes).
    #[test]
    fn keys_and_refs_of_every_character_size_read_and_write_whole() {
        let mut machine = PresenceMachine::new();
        let keys = ["a\u{1f600}b", "\u{20ac}", "\u{e9}\u{1f600}", "x"];
        let metas = [[(1, "\u{1f600}\u{e9}")], [(2, "\u{e9}")], [(3, "")], [(4, "\u{20ac}x")]];
        let object: Vec<_> = keys.iter().zip(&metas).map(|(key, meta)| (*key, 0, &meta[..])).collect();
        state(&mut machine, "1", &object);
        let list = machine.list();
        let names: Vec<u16> = machine.names().encode_utf16().collect();
        let (mut read, mut at, mut from) = (Vec::new(), 0, 0);
        while at < list.len() {
            let units = list[at] as usize;
            read.push(String::from_utf16(&names[from..from + units]).unwrap());
            from += units;
            assert_eq!(list[at + 1..at + 3], [0, 1], "no extra fields, one meta");
            at += 4;
        }
        read.sort();
        let mut keys = keys.map(String::from);
        keys.sort();
        assert_eq!((read, from), (keys.to_vec(), names.len()));
    }

    #[test]
    fn a_held_diff_keeps_its_handles_until_the_state() {
        let mut machine = PresenceMachine::new();
        assert!(machine.pending("1"));
        assert_eq!(diff(&mut machine, "1", &[("a", 0, &[(1, "x")])], &[]), Vec::<u32>::new());
        let out = state(&mut machine, "1", &[("a", 0, &[(2, "x")])]);
        // The state's meta joins; the held diff's, with the same ref, replaces it; the state's is let go of.
        assert_eq!(out, [1, 1, 0, 1, 2, 0, 1, 0, 1, 2, 0, 1, 1, 3, 4, 2]);
        assert_eq!(machine.list(), [1, 0, 1, 1]);
        assert!(!machine.pending("1"));
        assert!(machine.pending("2"));
    }

    /// Every handle given is either held by the tracker or freed, once, whatever the frames.
    #[test]
    fn every_handle_is_kept_or_freed_once() {
        let mut seed = 0x2545_f491_u32;
        let mut random = |n: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed % n
        };
        let keys = ["a", "b", "0", "10", "ü"];
        let refs = ["r1", "r2", "r3", "r4"];
        let mut machine = PresenceMachine::new();
        let mut next = 1;
        let mut live = std::collections::BTreeSet::new();
        for _ in 0..3000 {
            let join_ref = ["1", "2"][random(2) as usize];
            let (mut text, mut shape) = (String::new(), Vec::new());
            let objects = if random(5) == 0 { 1 } else { 2 };
            for _ in 0..objects {
                let count = random(4);
                shape.push(count);
                for _ in 0..count {
                    let key = keys[random(5) as usize];
                    let extra = if random(3) == 0 { 0 } else { next };
                    if extra != 0 {
                        live.insert(next);
                        next += 1;
                    }
                    let metas = random(3);
                    text.push_str(key);
                    shape.extend([key.encode_utf16().count() as u32, extra, metas]);
                    for _ in 0..metas {
                        let phx_ref = refs[random(4) as usize];
                        text.push_str(phx_ref);
                        shape.extend([next, 2]);
                        live.insert(next);
                        next += 1;
                    }
                }
            }
            let out = machine.frame(objects == 2, join_ref, &text, &bytes(&shape));
            for handle in freed(&out) {
                assert!(live.remove(&handle), "handle {handle} freed twice or never given");
            }
        }
        let mut held: Vec<u32> = machine.held.clone();
        for (_, entry) in machine.presence.state().iter() {
            super::handles(&mut held, Some(entry));
        }
        held.sort_unstable();
        let live: Vec<u32> = live.into_iter().collect();
        assert_eq!(held, live, "what is not freed is exactly what the tracker holds");
    }
}
