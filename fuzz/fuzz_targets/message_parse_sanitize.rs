//! Any bytes parse into an `Email` that keeps the raw bytes, and sanitizing its HTML never
//! leaves a script element behind.
#![no_main]

use inbound_message::{Email, InlineImages, SanitizeConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let email = Email::parse(data.to_vec());
    assert_eq!(&email.raw[..], data);
    if let Some(html) = email.sanitized_html(&InlineImages::Keep, &SanitizeConfig::default()) {
        assert!(!html.to_ascii_lowercase().contains("<script"));
    }
    if let Some(html) = email.sanitized_html(&InlineImages::DataUrl, &SanitizeConfig::default()) {
        assert!(!html.to_ascii_lowercase().contains("<script"));
    }
});
