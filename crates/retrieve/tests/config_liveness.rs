//! The settings that keep a subscription from going silently deaf: `idle_renew_secs` and
//! `tcp_keepalive_*` (defaults, ranges, round trip).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use inbound_net::Keepalive;
use inbound_retrieve::{Account, AccountConfig};

const BASE: &str = "name = \"x\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n";

fn parse(extra: &str) -> Result<Account, Vec<(&'static str, String)>> {
    let raw: AccountConfig = toml::from_str(&format!("{BASE}{extra}")).unwrap();
    raw.validate().map_err(|e| {
        e.problems
            .into_iter()
            .map(|p| (p.field, p.message))
            .collect()
    })
}

#[test]
fn idle_renewal_defaults_to_5_minutes_and_is_at_most_29() {
    assert_eq!(parse("").unwrap().idle_renew, Duration::from_secs(300));
    assert_eq!(
        parse("idle_renew_secs = 2").unwrap().idle_renew,
        Duration::from_secs(2)
    );
    assert_eq!(
        parse("idle_renew_secs = 1740").unwrap().idle_renew,
        Duration::from_secs(1740)
    );
    for bad in ["0", "1741", "-5"] {
        let p = parse(&format!("idle_renew_secs = {bad}")).unwrap_err();
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "idle_renew_secs");
        assert!(p[0].1.contains("between 1 and 1740"), "{}", p[0].1);
    }
}

#[test]
fn keepalive_is_on_by_default_settable_and_can_be_turned_off() {
    assert_eq!(parse("").unwrap().keepalive, Some(Keepalive::default()));
    assert_eq!(
        Keepalive::default(),
        Keepalive {
            idle: Duration::from_secs(60),
            interval: Duration::from_secs(10),
            probes: 3,
        }
    );
    let set =
        parse("tcp_keepalive_secs = 30\ntcp_keepalive_interval_secs = 5\ntcp_keepalive_probes = 4")
            .unwrap();
    assert_eq!(
        set.keepalive,
        Some(Keepalive {
            idle: Duration::from_secs(30),
            interval: Duration::from_secs(5),
            probes: 4,
        })
    );
    assert_eq!(parse("tcp_keepalive_secs = 0").unwrap().keepalive, None);

    let p = parse(
        "tcp_keepalive_secs = 7201\ntcp_keepalive_interval_secs = 0\ntcp_keepalive_probes = 21",
    )
    .unwrap_err();
    let fields: Vec<&str> = p.iter().map(|p| p.0).collect();
    assert_eq!(
        fields,
        [
            "tcp_keepalive_secs",
            "tcp_keepalive_interval_secs",
            "tcp_keepalive_probes"
        ]
    );
    // Probe settings with keepalive off are a mistake worth naming.
    let p = parse("tcp_keepalive_secs = 0\ntcp_keepalive_probes = 5").unwrap_err();
    assert_eq!(p[0].0, "tcp_keepalive_probes");
    assert!(p[0].1.contains("tcp_keepalive_secs = 0"), "{}", p[0].1);
}

#[test]
fn the_settings_survive_a_round_trip() {
    for extra in [
        "idle_renew_secs = 45\ntcp_keepalive_secs = 20\ntcp_keepalive_interval_secs = 3\ntcp_keepalive_probes = 2",
        "tcp_keepalive_secs = 0",
        "",
    ] {
        let account = parse(extra).unwrap();
        let text = toml::to_string(&account).unwrap();
        let back: Account = toml::from_str(&text).unwrap();
        assert_eq!(back.idle_renew, account.idle_renew, "{text}");
        assert_eq!(back.keepalive, account.keepalive, "{text}");
    }
}
