//! The decisions taken for each request, as pure functions of facts: which
//! route a request falls under ([`routing`]), whether a session may pass it
//! ([`policy`]), the one access decision built from both ([`access`]), where
//! a login may send the browser back to ([`return_to`]), and the bounds on
//! login abuse per client ([`limits`]).
//!
//! Nothing here speaks HTTP or holds the gateway's state: the edge gathers
//! the facts, asks here, and renders the answer.

pub mod access;
pub mod limits;
pub mod policy;
pub mod return_to;
pub mod routing;
