//! `Push`: one message sent to a channel, and the callbacks for its reply.

use crate::driver::PushHooks;
use crate::values::call;
use js_sys::Function;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// A push (or a channel's join or leave), as phoenix.js's `Push`: `receive(status, callback)` chains.
///
/// Every push ends in exactly one outcome: the server's reply (`"ok"`, `"error"`, ...) or `"timeout"`. A join
/// reports every attempt, so its callbacks run again on each rejoin.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Push {
    hooks: Rc<RefCell<PushHooks>>,
}

impl Push {
    pub(crate) fn new(hooks: Rc<RefCell<PushHooks>>) -> Push {
        Push { hooks }
    }
}

#[wasm_bindgen]
impl Push {
    /// Calls `callback(response)` when the push's outcome has this status (`"ok"`, `"error"`, `"timeout"`); at
    /// once if it already has. Returns the push, for chaining.
    pub fn receive(&self, status: &str, callback: Function) -> Push {
        let received = self.hooks.borrow().received.clone();
        if let Some((got, response)) = received
            && got == status
        {
            call(&callback, &[response]);
        }
        self.hooks.borrow_mut().hooks.push((status.to_owned(), callback));
        self.clone()
    }
}
