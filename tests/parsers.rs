//! Randomized tests of the parsers: arbitrary input never panics, and
//! well-formed input round-trips.

use procreap::ledger::Contents;
use procreap::parse_stat;

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() % (max as u64 + 1)) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<'a>(&mut self, xs: &'a [&'a [u8]]) -> &'a [u8] {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn stat_line(
    pid: i32,
    name: &[u8],
    state: char,
    ppid: i32,
    tty: u32,
    flags: u64,
    start: u64,
) -> Vec<u8> {
    let mut v = format!("{pid} (").into_bytes();
    v.extend_from_slice(name);
    v.extend_from_slice(
        format!(") {state} {ppid} {pid} {pid} {tty} -1 {flags} 1 2 3 4 5 6 7 8 20 0 1 0 {start} 1234 56 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
            .as_bytes(),
    );
    v
}

#[test]
fn stat_names_with_spaces_parens_newlines_and_bad_utf8_parse() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let pieces: &[&[u8]] = &[
        b" ",
        b"(",
        b")",
        b"\n",
        b") S 1 (",
        b"\xff\xfe",
        b"tmux: server",
        b"a",
        b"9",
    ];
    for i in 0..20_000 {
        let mut name = Vec::new();
        for _ in 0..(rng.next() % 6) {
            name.extend_from_slice(rng.pick(pieces));
        }
        let pid = (rng.next() % 4_000_000) as i32 + 1;
        let ppid = (rng.next() % 4_000_000) as i32;
        let start = rng.next() >> 8;
        let flags = rng.next() >> 40;
        let line = stat_line(pid, &name, 'S', ppid, 34816, flags, start);
        let got = parse_stat(&line)
            .unwrap_or_else(|| panic!("case {i}: {:?}", String::from_utf8_lossy(&line)));
        assert_eq!(got.pid, pid);
        assert_eq!(got.name, String::from_utf8_lossy(&name));
        assert_eq!(got.ppid, ppid);
        assert_eq!(got.state, 'S');
        assert_eq!(got.tty_nr, 34816);
        assert_eq!(got.flags, flags);
        assert_eq!(got.start_time, start);
    }
}

#[test]
fn malformed_stat_lines_are_skipped_never_a_panic() {
    let mut rng = Rng(0xdead_beef_0bad_f00d);
    let good = stat_line(42, b"claude", 'S', 1, 0, 0, 999);
    for _ in 0..50_000 {
        let mut b = match rng.next() % 3 {
            0 => rng.bytes(300),
            1 => good[..(rng.next() % good.len() as u64) as usize].to_vec(),
            _ => {
                let mut g = good.clone();
                for _ in 0..(1 + rng.next() % 4) {
                    let i = (rng.next() % g.len() as u64) as usize;
                    g[i] = rng.next() as u8;
                }
                g
            }
        };
        if rng.next() % 5 == 0 {
            b.retain(|&c| c != b')');
        }
        let _ = parse_stat(&b);
    }
    for bad in [
        &b""[..],
        b"(",
        b")",
        b"1 (x",
        b"x (a) S 1",
        b"-5 (a) S 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 9",
        b"1 (a) SS 1 1 1 0 -1 0 1 2 3 4 5 6 7 8 20 0 1 0 9",
        b"1 (a) S 1 1 1 0 -1 0 1 2 3",
    ] {
        assert!(
            parse_stat(bad).is_none(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // The kernel's own line for this process parses.
    let me = parse_stat(&std::fs::read("/proc/self/stat").unwrap()).unwrap();
    assert_eq!(me.pid, std::process::id() as i32);
    // Our own argv range is visible to us (fields 48-49).
    assert!(me.arg_start > 0 && me.arg_end > me.arg_start, "{me:?}");
}

#[test]
fn arbitrary_ledger_bytes_never_panic_and_are_rejected() {
    let mut rng = Rng(0x1ed9_e700_0000_0001);
    let mut c = Contents {
        boot: "b00t".into(),
        ids: "proc".into(),
        entries: vec![],
    };
    for i in 0..5 {
        c.entries.push(procreap::ledger::Entry {
            id: procreap::Identity {
                pid: 100 + i,
                start_time: 7 * i as u64,
            },
            kind: procreap::Kind::Zombies,
            signal: procreap::Sig::Term,
            sent_at: std::time::Duration::from_millis(12345),
            scope: "0123456789abcdef".into(),
            tree_of: (i % 2 == 1).then_some(procreap::Identity {
                pid: 7,
                start_time: 99,
            }),
            name: format!("na me)\n\\{i}\u{e9}"),
            rss_bytes: 0,
        });
    }
    let good = c.encode();
    assert_eq!(Contents::decode(&good).unwrap(), c, "round trip");
    for _ in 0..50_000 {
        let b = match rng.next() % 3 {
            0 => rng.bytes(400),
            1 => good[..(rng.next() % good.len() as u64) as usize].to_vec(),
            _ => {
                let mut g = good.clone();
                let i = (rng.next() % g.len() as u64) as usize;
                g[i] = g[i].wrapping_add(1 + (rng.next() % 255) as u8);
                g
            }
        };
        // Any change to a valid ledger is caught (checksum / structure).
        assert!(
            Contents::decode(&b).is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(&b)
        );
    }
}

#[test]
fn ps_etime_and_lstart_parse() {
    use procreap::ps::{parse_etime, parse_lstart};
    assert_eq!(parse_etime("01:23"), Some(83));
    assert_eq!(parse_etime("01:02:03"), Some(3723));
    assert_eq!(parse_etime("2-01:02:03"), Some(176_523));
    for bad in ["", "1", "a:b", "1:60", "x-01:02", "1:2:3:4"] {
        assert_eq!(parse_etime(bad), None, "{bad}");
    }
    assert_eq!(
        parse_lstart(&["Thu", "Jan", "1", "00:00:00", "1970"]),
        Some(0)
    );
    assert_eq!(
        parse_lstart(&["Fri", "Nov", "27", "20:19:06", "2026"]),
        Some(1_795_810_746)
    );
    assert_eq!(
        parse_lstart(&["Fri", "Foo", "27", "20:19:06", "2026"]),
        None
    );
    // Issue 10 item 11: values that would overflow are refused, never a
    // panic (debug builds panicked on these).
    let huge = "99999999999999999";
    for words in [
        ["Fri", "Nov", "27", "20:19:06", huge],
        ["Fri", "Nov", huge, "20:19:06", "2026"],
        ["Fri", "Nov", "27", "99999999999:00:00", "2026"],
        ["Fri", "Nov", "27", "20:19:06", "-5"],
    ] {
        assert_eq!(parse_lstart(&words), None, "{words:?}");
    }
    for bad in ["99999999999999999-00:00:00", "18446744073709551615:00:00"] {
        assert_eq!(parse_etime(bad), None, "{bad}");
    }
    let mut rng = Rng(0xdead_beef_0bad_f00d);
    for _ in 0..20_000 {
        let n = |r: &mut Rng| (r.next() >> (r.next() % 64)).to_string();
        let words = [
            "Mon".to_string(),
            "Jan".to_string(),
            n(&mut rng),
            format!("{}:{}:{}", n(&mut rng), n(&mut rng), n(&mut rng)),
            n(&mut rng),
        ];
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let _ = parse_lstart(&w);
        let _ = parse_etime(&format!(
            "{}-{}:{}:{}",
            n(&mut rng),
            n(&mut rng),
            n(&mut rng),
            n(&mut rng)
        ));
    }
}
