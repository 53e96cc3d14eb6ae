use super::*;

fn v4(a: u8, b: u8, c: u8) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::new(10, a, b, c))
}

fn at(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, 24100)
}

#[test]
fn self_and_backing_off_addresses_are_not_due() {
    let book = AddressBook::new(Clock::new(1.0));
    let a: SocketAddr = "10.0.0.1:24100".parse().unwrap();
    let b: SocketAddr = "[::1]:24100".parse().unwrap();
    assert!(book.add(a, Source::Config));
    assert!(book.add(b, Source::Config));
    assert!(!book.add(a, Source::Config));
    let now = Instant::now();
    assert_eq!(book.due(now, &[]).len(), 2);
    book.mark_self(b.ip());
    book.record_failure(a.ip());
    assert!(book.due(now, &[]).is_empty());
    let due: Vec<SocketAddr> = book
        .due(now + Duration::from_secs(2), &[])
        .iter()
        .map(|d| d.addr)
        .collect();
    assert_eq!(due, vec![a]);
}

#[test]
fn addresses_the_caller_holds_a_slot_for_are_not_due() {
    let book = AddressBook::new(Clock::new(1.0));
    for c in 1..=3 {
        assert!(book.add(at(v4(0, 0, c)), Source::Config));
    }
    let due: Vec<IpAddr> = book
        .due(Instant::now(), &[v4(0, 0, 1), v4(0, 0, 3)])
        .iter()
        .map(|d| d.addr.ip())
        .collect();
    assert_eq!(due, vec![v4(0, 0, 2)]);
}

#[test]
fn one_source_fills_only_its_own_share() {
    let book = AddressBook::new(Clock::new(1.0));
    let attacker = Source::Peer(v4(9, 9, 9));
    let added = (0..2000u32)
        .filter(|i| book.add(at(v4(1, (i / 250) as u8, (i % 250) as u8)), attacker))
        .count();
    assert_eq!(added, NEW_PER_SOURCE);
    // An honest source still gets its addresses in.
    assert!(book.add(at(v4(2, 0, 1)), Source::Peer(v4(8, 8, 8))));
}

#[test]
fn a_full_new_table_evicts_from_the_biggest_source() {
    let book = AddressBook::new(Clock::new(1.0));
    let sources = NEW_CAPACITY / NEW_PER_SOURCE;
    for s in 0..sources {
        for i in 0..NEW_PER_SOURCE {
            let ip = v4(s as u8, (i / 200) as u8, (i % 200) as u8);
            assert!(book.add(at(ip), Source::Peer(v4(200, s as u8, 1))));
        }
    }
    assert_eq!(book.len(), NEW_CAPACITY);
    assert!(book.add(at(v4(250, 0, 1)), Source::Peer(v4(201, 0, 1))));
    assert_eq!(
        book.len(),
        NEW_CAPACITY,
        "one entry of a full source evicted"
    );
}

#[test]
fn a_never_connected_address_is_evicted_after_repeated_failures() {
    let book = AddressBook::new(Clock::new(1.0));
    let junk = v4(1, 1, 1);
    let boot = v4(1, 1, 2);
    book.add(at(junk), Source::Peer(v4(9, 9, 9)));
    book.add(at(boot), Source::Config);
    for _ in 0..NEW_MAX_FAILURES {
        book.record_failure(junk);
        book.record_failure(boot);
    }
    assert_eq!(book.source_of(junk), None, "junk evicted");
    assert_eq!(book.source_of(boot), Some(Source::Config), "bootstrap kept");
}

#[test]
fn only_tried_addresses_are_shared_and_tried_ones_survive_failures() {
    let book = AddressBook::new(Clock::new(1.0));
    let src = Source::Peer(v4(9, 9, 9));
    let (a, b) = (v4(1, 1, 1), v4(1, 1, 2));
    book.add(at(a), src);
    book.add(at(b), src);
    assert!(book.shareable(v4(7, 7, 7), 100).is_empty());
    book.mark_tried(a);
    let shared: Vec<IpAddr> = book
        .shareable(v4(7, 7, 7), 100)
        .iter()
        .map(|p| p.ip)
        .collect();
    assert_eq!(shared, vec![a]);
    for _ in 0..NEW_MAX_FAILURES * 3 {
        book.record_failure(a);
    }
    assert_eq!(
        book.source_of(a),
        Some(src),
        "a tried address is never evicted for failing"
    );
}

#[test]
fn a_peer_we_were_connected_to_is_backed_off_from_never_evicted() {
    // The peer dialled us (so it is not `tried`), then a partition cut it
    // off: our redials must back off ever longer, not restart at 1 s each
    // time gossip re-teaches an evicted address.
    let book = AddressBook::new(Clock::new(1.0));
    let (peer, src) = (v4(1, 1, 1), Source::Peer(v4(9, 9, 9)));
    book.add(at(peer), src);
    book.record_disconnect(peer, HEALTHY_PERIOD * 2);
    let mut last = Duration::ZERO;
    for k in 0..NEW_MAX_FAILURES * 2 {
        let d = book.record_failure(peer);
        assert!(d > last, "failure {k}: backoff {d:?} after {last:?}");
        last = d;
    }
    assert_eq!(book.source_of(peer), Some(src), "still known");
    assert!(!book.add(at(peer), src), "gossip does not re-add it fresh");
}

#[test]
fn a_stranger_evicted_for_failing_and_re_taught_resumes_its_backoff() {
    let book = AddressBook::new(Clock::new(1.0));
    let (junk, src) = (v4(1, 1, 1), Source::Peer(v4(9, 9, 9)));
    for k in 0..NEW_MAX_FAILURES * 3 {
        // Gossip re-teaches it whenever it was evicted: it must not be due
        // at once, and a failure must not restart the backoff at step 1.
        book.add(at(junk), src);
        if k > 0 {
            let due = book.due(Instant::now(), &[]);
            assert!(
                !due.iter().any(|a| a.addr.ip() == junk),
                "failure {k}: due at once"
            );
        }
        let d = book.record_failure(junk);
        let step = backoff::base_delay(k + 1);
        assert!(
            d.is_zero() || d >= step,
            "failure {}: backoff {d:?} restarted below the step {step:?}",
            k + 1
        );
    }
}

#[test]
fn due_interleaves_sources_so_a_big_one_cannot_crowd_out_a_small_one() {
    let book = AddressBook::new(Clock::new(1.0));
    let (big, small) = (Source::Peer(v4(9, 9, 9)), Source::Peer(v4(8, 8, 8)));
    for i in 0..100u8 {
        book.add(at(v4(1, 0, i)), big);
    }
    let honest = v4(200, 0, 1);
    book.add(at(honest), small);
    let due = book.due(Instant::now(), &[]);
    assert_eq!(due.len(), 101);
    let pos = due.iter().position(|d| d.addr.ip() == honest).unwrap();
    assert!(pos <= 1, "honest address at position {pos}");
    assert!(due.iter().all(|d| d.is_new));
}

#[test]
fn is_due_follows_the_latest_failure_unlike_a_list_read_before_it() {
    let book = AddressBook::new(Clock::new(1.0));
    let a = at(v4(0, 0, 1));
    assert!(book.add(a, Source::Config));
    let now = Instant::now();
    let listed = book.due(now, &[]);
    assert_eq!(listed.len(), 1, "due before the failure");
    book.record_failure(a.ip());
    assert!(!book.is_due(a.ip(), now), "the failure's backoff holds");
    assert!(book.is_due(a.ip(), now + Duration::from_secs(2)));
    assert!(
        !book.is_due(v4(0, 0, 2), now),
        "an unknown address is not due"
    );
    book.mark_self(a.ip());
    assert!(!book.is_due(a.ip(), now + Duration::from_secs(60)));
}
