//! The shaper on an in-memory stream under tokio's paused clock: each
//! effect delays, reorders or duplicates exactly as documented.

use super::*;
use std::net::Ipv4Addr;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

/// Send `n` numbered lines A -> B, `gap_ms` apart; (arrival ms, line) as
/// B reads them.
async fn deliver_spaced(effect: LinkEffect, n: usize, gap_ms: u64) -> Vec<(u64, String)> {
    let shaper = Shaper::new(7);
    let mut links = BTreeMap::new();
    links.insert((A, B), effect);
    shaper.set(links);
    let (mut tx, rx) = tokio::io::duplex(1 << 20);
    let mut lines = BufReader::new(shaper.reader(rx, A, B)).lines();
    let t0 = Instant::now();
    tokio::spawn(async move {
        for i in 0..n {
            tx.write_all(format!("m{i}\n").as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(gap_ms)).await;
        }
    });
    let mut got = Vec::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        got.push((t0.elapsed().as_millis() as u64, l));
    }
    got
}

/// [`deliver_spaced`] with every line sent at once.
async fn deliver(effect: LinkEffect, n: usize) -> Vec<(u64, String)> {
    deliver_spaced(effect, n, 0).await
}

fn names(got: &[(u64, String)]) -> Vec<&str> {
    got.iter().map(|(_, l)| l.as_str()).collect()
}

#[tokio::test(start_paused = true)]
async fn no_effect_passes_bytes_through_at_once() {
    let got = deliver(LinkEffect::default(), 3).await;
    assert_eq!(names(&got), ["m0", "m1", "m2"]);
    assert!(got.iter().all(|(t, _)| *t == 0), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn delay_and_jitter_hold_every_message_in_order() {
    let e = LinkEffect {
        delay: Duration::from_millis(100),
        jitter: Duration::from_millis(50),
        ..LinkEffect::default()
    };
    let got = deliver(e, 50).await;
    let want: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    assert_eq!(names(&got), want, "TCP keeps order under jitter");
    assert!(got.iter().all(|(t, _)| (100..=150).contains(t)), "{got:?}");
    assert!(got.iter().any(|(t, _)| *t > 100), "jitter added nothing");
}

#[tokio::test(start_paused = true)]
async fn loss_costs_retransmission_timeouts() {
    let e = LinkEffect {
        loss: 0.5,
        ..LinkEffect::default()
    };
    let got = deliver(e, 40).await;
    assert_eq!(got.len(), 40, "a lost message is retransmitted, not gone");
    // Delays are sums of 200, 400, 800 ... ms; some messages lost once.
    let last = got.last().unwrap().0;
    assert!(last >= RTO.as_millis() as u64, "{got:?}");
    assert!(
        got.iter().any(|(t, _)| *t == 0),
        "p = 0.5: some got through"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_serialises_messages_one_after_the_other() {
    // 10 bytes/s; each message "mN\n" is 3 bytes: 300 ms apart.
    let e = LinkEffect {
        rate: Some(10),
        ..LinkEffect::default()
    };
    let got = deliver(e, 4).await;
    let times: Vec<u64> = got.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [300, 600, 900, 1200]);
}

#[tokio::test(start_paused = true)]
async fn reorder_and_duplicate_act_on_whole_messages_after_the_handshake() {
    let e = LinkEffect {
        delay: Duration::from_millis(100),
        reorder: 0.3,
        duplicate: 0.3,
        ..LinkEffect::default()
    };
    // 10 ms apart under 100 ms of delay: a message that skips the delay
    // can overtake the ~10 sent before it.
    let got = deliver_spaced(e, 100, 10).await;
    let n = names(&got);
    assert_eq!(&n[..2], ["m0", "m1"], "the handshake is exempt");
    let mut sorted: Vec<&str> = n.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 100, "every message arrives");
    assert!(n.len() > 100, "none duplicated");
    let num = |s: &str| s[1..].parse::<usize>().unwrap();
    assert!(
        n.windows(2).any(|w| num(w[1]) < num(w[0])),
        "none reordered: {n:?}"
    );
}
