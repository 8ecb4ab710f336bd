//! Sessions: the timeline of steps and its branches ([`session::Session`], synchronous), the
//! thread that owns it ([`worker`]), and the messages the UI exchanges with it ([`protocol`]).

pub mod beam;
pub mod crowd;
pub mod inspect;
pub mod protocol;
pub mod roles;
pub mod run;
pub mod session;
pub mod worker;
