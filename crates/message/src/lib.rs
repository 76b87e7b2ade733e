//! Parsed email model (work in progress: parsing and sanitizing are being written).

mod model;

pub use model::{Address, Attachment, Email, Header, Warning};
